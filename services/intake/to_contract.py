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
from services.intake.domain import Dossier

PRODUCER = "intake"


class IntakePublisher:
    """Maps intake's stored events to contract events (None for internal events)."""

    def __init__(self, app: IntakeApplication) -> None:
        self.app = app

    def __call__(
        self, event: DomainEventProtocol[UUID], aggregates: BatchAggregates
    ) -> contract.Envelope | None:
        if not isinstance(event, Dossier.Event):
            return None  # e.g. DailySequence: internal bookkeeping
        fields_of = envelope(PRODUCER, event)
        kind = type(event).__name__
        if kind in ("Submitted", "Received"):
            dossier: Dossier = aggregates.at(event)
            fields_of.update(_facts(dossier))
        fields = {k: v for k, v in vars(event).items() if k in _FIELDS[kind]}
        model = _MODELS[kind]
        return model.model_validate({**fields_of, **fields})


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
