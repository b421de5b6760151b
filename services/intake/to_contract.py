"""How intake's domain events become contract events on ``dossier-events``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from contracts import events as contract
from contracts import intake as ci
from motcua.runtime.envelope import envelope
from motcua.runtime.mapping import BatchAggregates
from services.intake.application import IntakeApplication
from services.intake.directory import DirectoryLog
from services.intake.domain import Dossier
from services.intake.working_calendar import WorkingCalendarLog

PRODUCER = "intake"


class IntakePublisher:
    """Maps intake's stored events to contract events (None for internal events)."""

    def __init__(self, app: IntakeApplication) -> None:
        self.app = app

    def __call__(
        self, event: DomainEventProtocol[UUID], aggregates: BatchAggregates
    ) -> contract.Envelope | None:
        if isinstance(event, WorkingCalendarLog.Event):
            return _calendar_change(event)
        if isinstance(event, DirectoryLog.Event):
            return _directory_change(event)
        if not isinstance(event, Dossier.Event):
            return None  # e.g. DailySequence: internal bookkeeping
        kind = type(event).__name__
        if kind == "PostalDetailsRecorded":
            return None  # carried by DossierReceived's facts
        fields_of = envelope(PRODUCER, event)
        if kind in ("Submitted", "Received"):
            dossier: Dossier = aggregates.at(event)
            fields_of.update(_facts(dossier))
        fields = {k: v for k, v in vars(event).items() if k in _FIELDS[kind]}
        model = _MODELS[kind]
        return model.model_validate({**fields_of, **fields})


def _calendar_change(event: WorkingCalendarLog.Event) -> contract.Envelope | None:
    """A change of the working calendar, on its own stream (``WORKING_CALENDAR_ID``)."""
    kind = type(event).__name__
    fields = {**envelope(PRODUCER, event), **vars(event)}
    if kind == "DaySet":
        return ci.WorkingDaySet.model_validate(_only(fields, ci.WorkingDaySet))
    if kind == "DayCleared":
        return ci.WorkingDayCleared.model_validate(_only(fields, ci.WorkingDayCleared))
    if kind == "OfficeHoursSet":
        sessions = [{"start": a, "end": b} for a, b in fields["sessions"]]
        return ci.OfficeHoursSet.model_validate(
            {**_only(fields, ci.OfficeHoursSet), "sessions": sessions}
        )
    return None  # Opened: the log's creation, nothing changed yet


_DIRECTORY_MODELS: dict[str, type[contract.Envelope]] = {
    "AgencyRegistered": ci.AgencyRegistered,
    "OfficerRolesSet": ci.OfficerRolesSet,
    "OfficerRemoved": ci.OfficerRemoved,
}


def _directory_change(event: DirectoryLog.Event) -> contract.Envelope | None:
    """A change of the directory of agencies and officers, on its stream (``DIRECTORY_ID``)."""
    model = _DIRECTORY_MODELS.get(type(event).__name__)
    if model is None:
        return None  # Opened: the log's creation, nothing changed yet
    fields = {**envelope(PRODUCER, event), **vars(event)}
    return model.model_validate(_only(fields, model))


def _only(fields: dict[str, Any], model: type[contract.Envelope]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k in model.model_fields and k != "type"}


def _facts(dossier: Dossier) -> dict[str, Any]:
    return {
        "procedure_id": dossier.procedure_id,
        "procedure_name": dossier.procedure_name,
        "level": dossier.level,
        "agency_code": dossier.agency_code,
        "channel": dossier.channel,
        "applicant": dossier.applicant,
        "form_data": dossier.form_data,
        "documents": dossier.documents,
        "postal_tracking_number": dossier.postal_tracking_number,
        "delivery_address": dossier.delivery_address,
    }


_MODELS: dict[str, type[contract.Envelope]] = {
    "Submitted": contract.DossierSubmitted,
    "CompletionRequested": contract.DossierCompletionRequested,
    "Resubmitted": contract.DossierResubmitted,
    "Received": contract.DossierReceived,
    "IntakeRefused": contract.DossierIntakeRefused,
    "Withdrawn": contract.DossierWithdrawn,
    "Rated": ci.DossierRated,
    "FeedbackSent": ci.FeedbackSent,
    "FeedbackAnswered": ci.FeedbackAnswered,
}
_FIELDS: dict[str, set[str]] = {
    kind: set(model.model_fields) - set(contract.Envelope.model_fields) - {"type"}
    for kind, model in _MODELS.items()
}
