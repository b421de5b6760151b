"""From a ``dossier-events`` event to its curated inter-agency event, and what a
ministry may see beyond it.

``curate`` builds the default event: only the fields named in
``contracts/interagency.py``, never anything personal, because it copies fields one
by one instead of removing the personal ones (a field added to a source contract
later cannot leak). ``disclose`` adds, per ministry, what its configuration allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts import intake as ci
from contracts import interagency as ia
from contracts import workflow as cw
from contracts.envelope import Envelope
from services.catalogue.procedures import Procedure
from services.interagency.ministries import FORM_PREFIX

PRODUCER = "interagency"


@dataclass(frozen=True)
class Dossier:
    """What the service remembers of a forwarded dossier: enough to curate its events."""

    code: str
    procedure_id: str
    status: ia.DossierStatus
    appointment_date: date


def _base(event: Envelope, dossier: Dossier) -> dict[str, Any]:
    return {
        "event_id": ia.interagency_event_id(event.event_id),
        "dossier_id": event.dossier_id,
        "occurred_at": event.occurred_at,
        "producer": PRODUCER,
        "correlation_id": str(event.event_id),
        "code": dossier.code,
        "procedure_id": dossier.procedure_id,
        "status": dossier.status,
        "appointment_date": dossier.appointment_date,
    }


def curate_received(event: ci.DossierReceived, procedure: Procedure) -> ia.InteragencyEvent:
    dossier = Dossier(event.code, procedure.id, "in_progress", event.appointment_date)
    return ia.InteragencyDossierReceived(
        **_base(event, dossier),
        procedure_name=procedure.name,
        level=event.level,
        receiving_agency=event.agency_code,
        agencies=procedure.agencies,
        channel=event.channel,
        received_at=event.received_at,
        time_limit_working_days=event.time_limit_working_days,
    )


# Fields every curated event takes from the envelope and the remembered dossier, and
# those only ``disclose`` fills, per ministry. The rest of a curated contract's fields
# are copied by name from its source event.
_NOT_COPIED = {*Envelope.model_fields, "type", "code", "procedure_id", "status"}
_DISCLOSED = {"applicant", "form_data", "reason"}


def _with(dossier: Dossier, **changes: Any) -> Dossier:
    return Dossier(**{**dossier.__dict__, **changes})


@dataclass(frozen=True)
class Rule:
    """How one source event type becomes its curated event.

    Only the fields the curated contract declares are copied (an allow-list: a field
    added to the source contract later is not forwarded). ``status`` is the dossier's
    status afterwards; ``reschedules`` means the source's ``appointment_date`` is the
    dossier's new appointment.
    """

    curated: type[ia.InteragencyEvent]
    status: ia.DossierStatus | None = None
    reschedules: bool = False

    def __call__(self, event: Any, dossier: Dossier) -> ia.InteragencyEvent:
        changes: dict[str, Any] = {"status": self.status} if self.status else {}
        if self.reschedules:
            changes["appointment_date"] = event.appointment_date
        base = _base(event, _with(dossier, **changes))
        own = {
            name: getattr(event, name)
            for name in self.curated.model_fields
            if name not in _NOT_COPIED and name not in _DISCLOSED and name not in base
        }
        return self.curated(**base, **own)


# Source event type -> its curated event. Claims (an officer's name), notices, fees and
# payments are not the ministries' business and are not forwarded.
RULES: dict[type[Envelope], Rule] = {
    cw.StepStarted: Rule(ia.InteragencyStepStarted, "in_progress"),
    cw.StepCompleted: Rule(ia.InteragencyStepCompleted, "awaiting_handover"),
    cw.DossierHandedOver: Rule(ia.InteragencyDossierHandedOver),
    cw.SupplementRequested: Rule(ia.InteragencyDossierPaused, "paused"),
    cw.SupplementProvided: Rule(ia.InteragencyDossierResumed, "in_progress", reschedules=True),
    cw.StepOverdue: Rule(ia.InteragencyStepOverdue),
    cw.DossierOverdue: Rule(ia.InteragencyDossierOverdue),
    cw.ApologyIssued: Rule(ia.InteragencyAppointmentRescheduled, reschedules=True),
    cw.DossierApproved: Rule(ia.InteragencyDossierApproved),
    cw.DossierRejected: Rule(ia.InteragencyDossierRefused, "rejected"),
    cw.ResultIssued: Rule(ia.InteragencyResultIssued, "result_issued", reschedules=True),
    cw.ResultReturned: Rule(ia.InteragencyDossierClosed, "returned"),
    ci.DossierWithdrawn: Rule(ia.InteragencyDossierWithdrawn, "withdrawn"),
}


def curate(event: Envelope, dossier: Dossier) -> ia.InteragencyEvent | None:
    """The default curated event of a forwarded dossier's ``event``; None if not forwarded."""
    rule = RULES.get(type(event))
    return rule(event, dossier) if rule else None


def disclose(event: Envelope, fields: frozenset[str]) -> dict[str, Any]:
    """The extra fields (JSON values) one ministry may receive with ``event``'s curated
    event: only those ``fields`` allows, only where the source event has them."""
    extra: dict[str, Any] = {}
    if isinstance(event, ci.DossierReceived):
        applicant = {
            name: getattr(event.applicant, name)
            for name in ("full_name", "id_number", "phone", "email")
            if f"applicant.{name}" in fields and getattr(event.applicant, name) is not None
        }
        form = {
            name: value
            for name, value in event.form_data.items()
            if f"{FORM_PREFIX}{name}" in fields
        }
        if applicant:
            extra["applicant"] = applicant
        if form:
            extra["form_data"] = form
    elif "reason" in fields and isinstance(
        event, cw.SupplementRequested | cw.DossierRejected | cw.ApologyIssued | ci.DossierWithdrawn
    ):
        extra["reason"] = event.reason
    return extra
