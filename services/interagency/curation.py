"""From a ``dossier-events`` event to its curated inter-agency event, and what a
ministry may see beyond it.

``curate`` builds the default event: only the fields named in
``contracts/interagency.py``, never anything personal, because it copies fields one
by one instead of removing the personal ones (a field added to a source contract
later cannot leak). ``disclose`` adds, per ministry, what its configuration allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts import intake as ci
from contracts import interagency as ia
from contracts import workflow as cw
from contracts.envelope import Envelope
from services.intake.catalogue import Procedure
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


Rule = Callable[[Any, Dossier], ia.InteragencyEvent]


def _with(dossier: Dossier, **changes: Any) -> Dossier:
    return Dossier(**{**dossier.__dict__, **changes})


def _step_started(e: cw.StepStarted, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyStepStarted(
        **_base(e, _with(d, status="in_progress")),
        step_index=e.step_index,
        step_id=e.step_id,
        step_name=e.step_name,
        agency_code=e.agency_code,
        started_on=e.started_on,
        due_date=e.due_date,
    )


def _step_completed(e: cw.StepCompleted, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyStepCompleted(
        **_base(e, _with(d, status="awaiting_handover")),
        step_index=e.step_index,
        step_id=e.step_id,
        agency_code=e.agency_code,
        completed_on=e.completed_on,
        late=e.late,
    )


def _handed_over(e: cw.DossierHandedOver, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyDossierHandedOver(
        **_base(e, d), from_agency=e.from_agency, to_agency=e.to_agency, step_index=e.step_index
    )


def _paused(e: cw.SupplementRequested, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyDossierPaused(
        **_base(e, _with(d, status="paused")),
        agency_code=e.agency_code,
        requested_on=e.requested_on,
        documents=e.documents,
    )


def _resumed(e: cw.SupplementProvided, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyDossierResumed(
        **_base(e, _with(d, status="in_progress", appointment_date=e.appointment_date)),
        provided_on=e.provided_on,
        paused_working_days=e.paused_working_days,
    )


def _step_overdue(e: cw.StepOverdue, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyStepOverdue(
        **_base(e, d),
        step_index=e.step_index,
        step_id=e.step_id,
        agency_code=e.agency_code,
        due_date=e.due_date,
    )


def _overdue(e: cw.DossierOverdue, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyDossierOverdue(
        **_base(e, d), responsible_agency=e.responsible_agency, late_agencies=e.late_agencies
    )


def _apology(e: cw.ApologyIssued, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyAppointmentRescheduled(
        **_base(e, _with(d, appointment_date=e.appointment_date)),
        agency_code=e.agency_code,
        previous_appointment_date=e.previous_appointment_date,
    )


def _approved(e: cw.DossierApproved, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyDossierApproved(**_base(e, d), agency_code=e.agency_code)


def _refused(e: cw.DossierRejected, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyDossierRefused(
        **_base(e, _with(d, status="rejected")), agency_code=e.agency_code
    )


def _result(e: cw.ResultIssued, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyResultIssued(
        **_base(e, _with(d, status="result_issued", appointment_date=e.appointment_date)),
        agency_code=e.agency_code,
        kind=e.kind,
        issued_at=e.issued_at,
        timeliness=e.timeliness,
    )


def _closed(e: cw.ResultReturned, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyDossierClosed(
        **_base(e, _with(d, status="returned")), returned_on=e.returned_on, method=e.method
    )


def _withdrawn(e: ci.DossierWithdrawn, d: Dossier) -> ia.InteragencyEvent:
    return ia.InteragencyDossierWithdrawn(**_base(e, _with(d, status="withdrawn")))


# Source event type -> its curated event. Claims (an officer's name), notices, fees and
# payments are not the ministries' business and are not forwarded.
RULES: dict[type[Envelope], Rule] = {
    cw.StepStarted: _step_started,
    cw.StepCompleted: _step_completed,
    cw.DossierHandedOver: _handed_over,
    cw.SupplementRequested: _paused,
    cw.SupplementProvided: _resumed,
    cw.StepOverdue: _step_overdue,
    cw.DossierOverdue: _overdue,
    cw.ApologyIssued: _apology,
    cw.DossierApproved: _approved,
    cw.DossierRejected: _refused,
    cw.ResultIssued: _result,
    cw.ResultReturned: _closed,
    ci.DossierWithdrawn: _withdrawn,
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
