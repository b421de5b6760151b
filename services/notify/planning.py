"""Notify's consumer policy: which notices the dossier events produce (N-2).

Each consumed event may bring or change the dossier's contact facts (who the applicant
is, how they want to hear, the appointment) and may call for a notice on each channel
the applicant and the procedure's rules want. Planning runs in the consumer's unit of
work: the facts, the new notices and the consumer's positions commit together; a portal
inbox notice is delivered right there (the inbox is our own table), the others are left
due for delivery (services/notify/delivery.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote

from contracts import intake as ci
from contracts import payment as cp
from contracts import postal as cpost
from contracts import workflow as cw
from contracts.envelope import Envelope
from motcua.core import metrics
from motcua.core.calendar import VIETNAM_TZ
from motcua.runtime.handlers import Handlers
from motcua.runtime.store import Write
from motcua.runtime.unit_of_work import UnitOfWork
from services.catalogue.procedures import Catalogue
from services.notify.base import NotifyBase
from services.notify.domain import Notice
from services.notify.readmodel import facts_row, notice_row
from services.notify.render import Channel as RenderChannel
from services.notify.render import render
from services.notify.rules import Rules

# Which contract event tells the applicant what (N-2): event type -> notice kind.
KIND_OF: dict[type[Envelope], str] = {
    ci.DossierReceived: "received",
    ci.DossierCompletionRequested: "completion_requested",
    ci.DossierIntakeRefused: "refused",
    cw.SupplementRequested: "supplement_requested",
    cw.ApologyIssued: "overdue_apology",
    cw.ResultIssued: "result_ready",
    cw.DossierRejected: "rejected",
    cp.PaymentSucceeded: "payment_confirmed",
    cp.FeeAssessed: "fee_due",
    ci.FeedbackAnswered: "feedback_answered",
    cpost.ShipmentOrdered: "posted",
    cpost.ShipmentDelivered: "post_delivered",
    cpost.ShipmentReturned: "post_returned",
}

# Events that bring or change the facts notices are written from.
FACTS_FROM: tuple[type[Envelope], ...] = (
    ci.DossierSubmitted,
    ci.DossierReceived,
    cw.SupplementProvided,
    cw.ApologyIssued,
)


class PlanningMixin(NotifyBase):
    """Plans the notices of each consumed event from the dossier's facts."""

    catalogue: Catalogue
    rules: Rules
    public_base_url: str
    workflow_public_url: str | None

    def handlers(self) -> Handlers:
        """The events that change a dossier's contact facts or call for a notice; the
        others (notices delivered, steps, …) are only tracked by the consumer."""
        return Handlers({tuple({*KIND_OF, *FACTS_FROM}): self.plan})

    def plan(self, event: Envelope, uow: UnitOfWork) -> None:
        """Remember the dossier's contacts; plan the notices this event calls for."""
        facts = self._facts(event, uow)
        if isinstance(event, ci.DossierSubmitted | ci.DossierReceived):
            facts = {**facts, **_facts_of(event)}
        if isinstance(event, cw.SupplementProvided | cw.ApologyIssued):
            facts["appointment_date"] = event.appointment_date.isoformat()
            # A supplement moves the hour with the date; an apology promises a date only.
            moved = getattr(event, "appointment_at", None)
            facts["appointment_at"] = moved.isoformat() if moved is not None else None
        writes: list[Write] = [facts_row(event.dossier_id, facts)] if facts else []
        kind = KIND_OF.get(type(event))
        notices = self._plan(event, kind, facts) if kind and facts else []
        uow.save(*notices, writes=[*(notice_row(n) for n in notices), *writes])
        for inbox in (n for n in notices if n.channel == "inbox"):
            metrics.NOTICES.labels(inbox.channel, "delivered").inc()

    def _plan(self, event: Envelope, kind: str, facts: dict[str, Any]) -> list[Notice]:
        applicant = facts["applicant"]
        wanted = self.rules.channels(
            facts.get("procedure_id", ""), kind, set(applicant.get("notify_by") or ())
        )
        targets = {
            "inbox": applicant.get("account"),
            "email": applicant.get("email"),
            "sms": applicant.get("phone"),
            # Messaging apps (e.g. Zalo) reach citizens by phone number, through a webhook.
            "webhook": applicant.get("phone") if "webhook" in self.channels else None,
        }
        data = self._template_data(event, facts)
        now = self.clock()
        notices = []
        for channel, recipient in targets.items():
            if channel not in wanted or not recipient:
                continue
            # Messaging apps get the short SMS text.
            text_on = cast(RenderChannel, "sms" if channel == "webhook" else channel)
            rendered = render(kind, text_on, data)
            notice = Notice(
                source_event_id=event.event_id,
                channel=channel,
                dossier_id=event.dossier_id,
                kind=kind,
                account=applicant.get("account"),
                recipient=recipient,
                subject=rendered.subject,
                body=rendered.body,
                due_at=now,
            )
            if channel == "inbox":  # the inbox is our own table: delivered in this transaction
                notice.start_attempt(at=now)
                notice.delivered(at=now)
            notices.append(notice)
        return notices

    def _template_data(self, event: Envelope, facts: dict[str, Any]) -> dict[str, Any]:
        procedure = self.catalogue.get(facts.get("procedure_id", ""))
        code = getattr(event, "code", None) or facts.get("code")
        if isinstance(event, cw.ApologyIssued):  # the letter names the missed date
            appointment: Any = event.previous_appointment_date
        else:
            appointment = getattr(event, "appointment_date", None) or facts.get("appointment_date")
        moment = facts.get("appointment_at")
        return {
            "applicant_name": facts["applicant"].get("full_name", ""),
            "code": code,
            "procedure_name": facts.get("procedure_name", ""),
            "agency_name": procedure.receiving_agency.name if procedure else "Bộ phận Một cửa",
            "lookup_url": f"{self.public_base_url}/lookup?code={quote(code)}" if code else None,
            "appointment_date": _dmy(appointment),
            "appointment_time": _hour_of(moment, appointment),
            "new_appointment_date": _dmy(event.appointment_date)
            if isinstance(event, cw.ApologyIssued)
            else None,
            "reason": getattr(event, "reason", None),
            "documents": _requested_documents(event),
            "payment_url": getattr(event, "payment_url", None),
            "amount_vnd": getattr(event, "amount_vnd", None),
            "result_kind": getattr(event, "kind", None),
            "tracking_number": getattr(event, "tracking_number", None),
            "postal_operator": getattr(event, "operator", None),
            "received_by": getattr(event, "received_by", None),
            "result_url": self._result_url(event, code),
            "answer": getattr(event, "answer", None),
        }

    def _result_url(self, event: Envelope, code: str | None) -> str | None:
        """Where workflow serves an electronic result (to its applicant only)."""
        if not isinstance(event, cw.ResultIssued) or event.kind != "electronic":
            return None
        if not code or not self.workflow_public_url:
            return None
        return f"{self.workflow_public_url}/v1/dossiers/{code}/result/document"

    @staticmethod
    def _facts(event: Envelope, uow: UnitOfWork) -> dict[str, Any]:
        """The dossier's facts as earlier events left them (in this batch too)."""
        row = uow.read_one(
            "SELECT facts FROM {notify_dossiers} WHERE dossier_id = ?", (str(event.dossier_id),)
        )
        return json.loads(row["facts"]) if row else {}


def _facts_of(event: ci.DossierSubmitted | ci.DossierReceived) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "applicant": event.applicant.model_dump(mode="json"),
        "procedure_id": event.procedure_id,
        "procedure_name": event.procedure_name,
        "agency_code": event.agency_code,
    }
    if isinstance(event, ci.DossierReceived):
        facts.update(code=event.code, appointment_date=event.appointment_date.isoformat())
        at = event.appointment_at
        facts["appointment_at"] = at.isoformat() if at is not None else None
    return facts


def _hour_of(moment: str | None, appointment: Any) -> str | None:
    """The return time's hour ("15 giờ 00"), Vietnam time, when the moment is known and
    falls on the date the notice names; None otherwise (a date alone is shown)."""
    if moment is None or appointment is None:
        return None
    local = datetime.fromisoformat(moment).astimezone(VIETNAM_TZ)
    named = appointment.isoformat() if hasattr(appointment, "isoformat") else str(appointment)
    return local.strftime("%H giờ %M") if local.date().isoformat() == named[:10] else None


def _requested_documents(event: Envelope) -> list[str]:
    if isinstance(event, cw.SupplementRequested):
        return list(event.documents)
    if isinstance(event, ci.DossierCompletionRequested):
        return list(event.missing_documents)
    return []


def _dmy(value: Any) -> str | None:
    if value is None:
        return None
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    year, month, day = text[:10].split("-")
    return f"{day}/{month}/{year}"
