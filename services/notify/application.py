"""NotifyApplication: plans notices from dossier events and delivers them, once.

Planning happens in the consumer's transaction: the dossier's contact facts, the new
notices and the consumer's positions are committed together. Delivery is a separate
loop over due notices: record the attempt, send, record the outcome; failures are
retried with exponential backoff and jitter, from the store, so restarts lose nothing.
"""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from contracts import intake as ci
from contracts import payment as cp
from contracts import workflow as cw
from contracts.envelope import Envelope
from motcua.core import metrics
from motcua.core.clock import Clock, system_clock
from motcua.core.errors import NotFound
from motcua.runtime.handlers import Handlers
from motcua.runtime.store import Store, Write
from motcua.runtime.unit_of_work import UnitOfWork
from motcua.web.auth import Caller
from services.catalogue.procedures import Catalogue
from services.notify.channels import Channel, ChannelError
from services.notify.domain import Notice, NoticeClosed
from services.notify.readmodel import body_hash, create_tables, facts_row, notice_row
from services.notify.render import Channel as RenderChannel
from services.notify.render import render
from services.notify.rules import Rules
from services.notify.settings import NotifySettings

log = structlog.get_logger(__name__)

# Rounds of due notices one call of ``deliver_due`` takes at most, one after the other.
DELIVERY_ROUNDS = 20

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
}

# Events that bring or change the facts notices are written from.
FACTS_FROM: tuple[type[Envelope], ...] = (
    ci.DossierSubmitted,
    ci.DossierReceived,
    cw.SupplementProvided,
    cw.ApologyIssued,
)


class NotifyApplication(Application[UUID]):
    name = "notify"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        settings: NotifySettings,
        channels: dict[str, Channel],
        catalogue: Catalogue,
        public_base_url: str,
        workflow_public_url: str | None = None,
        rules: Rules | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(env)
        self.settings, self.channels, self.catalogue = settings, channels, catalogue
        self.public_base_url = public_base_url.rstrip("/")
        self.workflow_public_url = workflow_public_url.rstrip("/") if workflow_public_url else None
        self.rules = rules or Rules()
        self.clock: Clock = clock or system_clock
        self.store = Store(self.recorder)  # type: ignore[arg-type]
        self.store.write(create_tables)
        self._stopping = threading.Event()
        # Threads start when first needed and wait idle between rounds.
        self._senders = ThreadPoolExecutor(
            max(1, settings.notify_senders), thread_name_prefix="notify-send"
        )

    def close(self) -> None:
        self._senders.shutdown(wait=False, cancel_futures=True)
        super().close()

    # -- planning (consumer) ----------------------------------------------------------

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
        return {
            "applicant_name": facts["applicant"].get("full_name", ""),
            "code": code,
            "procedure_name": facts.get("procedure_name", ""),
            "agency_name": procedure.receiving_agency.name if procedure else "Bộ phận Một cửa",
            "lookup_url": f"{self.public_base_url}/v1/dossiers/{code}" if code else None,
            "appointment_date": _dmy(appointment),
            "new_appointment_date": _dmy(event.appointment_date)
            if isinstance(event, cw.ApologyIssued)
            else None,
            "reason": getattr(event, "reason", None),
            "documents": _requested_documents(event),
            "payment_url": getattr(event, "payment_url", None),
            "amount_vnd": getattr(event, "amount_vnd", None),
            "result_kind": getattr(event, "kind", None),
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

    # -- delivery ---------------------------------------------------------------------

    def deliver_due(self, limit: int = 50) -> int:
        """Send every notice whose time has come, ``limit`` a round; return how many were
        attempted.

        A full round is followed by the next at once: waiting the poll period after each
        one capped delivery at ``limit`` per period, below what a busy day plans (ten
        dossiers a second plan about seventy e-mails and SMS). At most
        ``DELIVERY_ROUNDS`` rounds a call: a row that stayed due without being sent (its
        notice taken by another loop before this one could lease it) is read again, and
        must not keep the loop from its period for ever.
        """
        attempted = 0
        for _round in range(DELIVERY_ROUNDS):
            if self._stopping.is_set():
                break
            rows = self.store.read(
                "SELECT id, recipient FROM {notify_notices} "
                "WHERE status IN ('pending', 'retrying', 'sending') "
                "AND due_at <= ? ORDER BY due_at LIMIT ?",
                (self.clock().isoformat(), limit),
            )
            self._deliver_round(rows)
            attempted += len(rows)
            if len(rows) < limit:
                break
        return attempted

    def _deliver_round(self, rows: list[dict[str, Any]]) -> None:
        """The round's notices, each recipient's one after the other in their order, the
        recipients side by side on ``notify_senders`` threads.

        A send waits on the mail server or the SMS gateway, not on this machine: one at a
        time, a round of fifty took long enough that a busy day's notices queued for
        minutes. One recipient's stay in order, so the SMS flood limit counts what the
        number was sent before each send. The round ends when every send of it has:
        an error is logged and raised only then, so no next round starts while notices
        of this one are still in flight.
        """
        by_recipient: dict[str, list[UUID]] = {}
        for row in rows:
            by_recipient.setdefault(row["recipient"], []).append(UUID(row["id"]))
        queues = list(by_recipient.values())
        if len(queues) <= 1 or self.settings.notify_senders <= 1:
            for queue in queues:
                self._deliver_each(queue)
            return
        futures = [self._senders.submit(self._deliver_each, queue) for queue in queues]
        wait(futures)
        errors = [e for e in (f.exception() for f in futures) if e is not None]
        for error in errors[1:]:  # the first is raised, and logged by the delivery loop
            log.error("notice delivery failed", error=repr(error))
        if errors:
            raise errors[0]

    def _deliver_each(self, notice_ids: list[UUID]) -> None:
        for notice_id in notice_ids:
            if self._stopping.is_set():
                return
            self._deliver(notice_id)

    def stop_delivering(self) -> None:
        """The service is stopping: no new send starts (those under way finish)."""
        self._stopping.set()

    def _deliver(self, notice_id: UUID) -> None:
        notice = self._notice(notice_id)
        now = self.clock()
        if notice.channel == "sms" and self._sms_flood(notice, now):
            notice.suppress(
                reason=f"more than {self.settings.sms_limit_per_hour} identical SMS "
                "to this number in the last hour"
            )
            self._save(notice)
            return
        try:
            notice.start_attempt(at=now)
            # Recorded before the send, and not due again before its lease ends: another
            # delivery loop leaves it alone meanwhile; after a crash it is sent again.
            lease = timedelta(seconds=self.settings.notify_send_lease_seconds)
            self._save(notice, due_at=now + lease)
        except (NoticeClosed, IntegrityError):
            return  # another delivery loop took it
        try:
            self.channels[notice.channel].send(
                key=str(notice.id),
                recipient=notice.recipient,
                subject=notice.subject,
                body=notice.body,
            )
        except ChannelError as error:
            self._failed_attempt(notice, str(error))
            return
        notice.delivered(at=self.clock())
        self._save(notice)
        metrics.NOTICES.labels(notice.channel, "delivered").inc()

    def _failed_attempt(self, notice: Notice, error: str) -> None:
        log.warning(
            "notice attempt failed",
            notice=str(notice.id),
            channel=notice.channel,
            attempt=notice.attempts,
            error=error,
        )
        s = self.settings
        outcome = "failed" if notice.attempts >= s.notify_max_attempts else "retry"
        if outcome == "failed":
            notice.failed(error=error)
        else:
            backoff = min(
                s.notify_retry_base_seconds * 2 ** (notice.attempts - 1), s.notify_retry_max_seconds
            )
            retry_at = self.clock() + timedelta(seconds=backoff * random.uniform(0.5, 1.5))
            notice.attempt_failed(error=error, retry_at=retry_at)
        self._save(notice)
        metrics.NOTICES.labels(notice.channel, outcome).inc()

    def _sms_flood(self, notice: Notice, now: datetime) -> bool:
        row = self.store.read_one(
            "SELECT COUNT(*) AS n FROM {notify_notices} WHERE channel = 'sms' AND recipient = ? "
            "AND body_hash = ? AND status = 'delivered' AND updated_at >= ?",
            (notice.recipient, body_hash(notice.body), (now - timedelta(hours=1)).isoformat()),
        )
        return row is not None and int(row["n"]) >= self.settings.sms_limit_per_hour

    # -- inbox and operators ----------------------------------------------------------

    def inbox(
        self, caller: Caller, unread_only: bool, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        caller.require("citizen")
        where = " AND read_at IS NULL" if unread_only else ""
        return self.store.read(
            "SELECT id, dossier_id, kind, subject, body, created_at, read_at FROM {notify_notices} "
            f"WHERE channel = 'inbox' AND account = ?{where} ORDER BY created_at DESC "
            "LIMIT ? OFFSET ?",
            (caller.sub, limit, offset),
        )

    def unread(self, caller: Caller) -> int:
        caller.require("citizen")
        row = self.store.read_one(
            "SELECT COUNT(*) AS n FROM {notify_notices} WHERE channel = 'inbox' AND account = ? "
            "AND read_at IS NULL",
            (caller.sub,),
        )
        return int(row["n"]) if row else 0

    def mark_read(self, caller: Caller, notice_id: UUID) -> None:
        caller.require("citizen")
        notice = self._notice(notice_id)
        if notice.channel != "inbox" or notice.account != caller.sub:
            raise NotFound("no such message in your inbox")
        if notice.read_at is None:
            notice.mark_read(at=self.clock())
            self._save(notice)

    def notices(
        self, caller: Caller, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        caller.require("admin")
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        return self.store.read(
            "SELECT id, dossier_id, kind, channel, recipient, status, attempts, error, "
            f"created_at, updated_at FROM {{notify_notices}} {where} "
            "ORDER BY updated_at DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

    def resend(self, caller: Caller, notice_id: UUID) -> None:
        """Give a failed (or suppressed) notice a fresh set of attempts."""
        caller.require("admin")
        notice = self._notice(notice_id)
        notice.resend(by=caller.sub, at=self.clock())
        self._save(notice)

    # -- helpers ----------------------------------------------------------------------

    def _notice(self, notice_id: UUID) -> Notice:
        try:
            notice: Notice = self.repository.get(notice_id)
        except AggregateNotFoundError:
            raise NotFound("no such notice") from None
        return notice

    def _save(self, notice: Notice, due_at: datetime | None = None) -> None:
        """The notice and its row; ``due_at``, when given, is the row's (a lease)."""
        self.save(notice, writes=[notice_row(notice, due_at)])


def _facts_of(event: ci.DossierSubmitted | ci.DossierReceived) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "applicant": event.applicant.model_dump(mode="json"),
        "procedure_id": event.procedure_id,
        "procedure_name": event.procedure_name,
        "agency_code": event.agency_code,
    }
    if isinstance(event, ci.DossierReceived):
        facts.update(code=event.code, appointment_date=event.appointment_date.isoformat())
    return facts


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
