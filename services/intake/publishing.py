"""How intake's domain events become contract events on ``dossier-events``.

Each published event gets an id derived from the stored event (aggregate id and
version), so publishing the same stored event again yields the same ``event_id``.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import DomainEventProtocol

from contracts import events as contract
from services.intake.application import IntakeApplication
from services.intake.domain import Dossier

PRODUCER = "intake"


def event_id_of(originator_id: UUID, version: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"motcua:{PRODUCER}:{originator_id}:{version}")


class IntakePublisher:
    """Maps intake's stored events to contract events (None for internal events)."""

    def __init__(self, app: IntakeApplication) -> None:
        self.app = app

    def __call__(self, event: DomainEventProtocol[UUID]) -> contract.Envelope | None:
        if not isinstance(event, Dossier.Event):
            return None  # e.g. DailySequence: internal bookkeeping
        envelope = {
            "event_id": event_id_of(event.originator_id, event.originator_version),
            "dossier_id": event.originator_id,
            "occurred_at": event.timestamp,
            "producer": PRODUCER,
            "correlation_id": getattr(event, "correlation_id", "") or str(event.originator_id),
        }
        kind = type(event).__name__
        if kind in ("Submitted", "Received"):
            dossier: Dossier = self.app.repository.get(
                event.originator_id, version=event.originator_version
            )
            envelope.update(_facts(dossier))
        fields = {k: v for k, v in vars(event).items() if k in _FIELDS[kind]}
        model = _MODELS[kind]
        return model.model_validate({**envelope, **fields})


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
}
_FIELDS: dict[str, set[str]] = {
    kind: set(model.model_fields) - set(contract.Envelope.model_fields) - {"type"}
    for kind, model in _MODELS.items()
}
