"""A forwarded dossier: the outbox of the inter-agency feeds for one dossier.

Each ``Forwarded`` event holds one curated event (as JSON, without personal data) and,
per ministry that receives the dossier, the extra fields it may see. It is recorded in
the transaction that records the consumer's position, and the feeds' relays publish
the store's notifications in order: nothing is forwarded twice or lost on a crash.

Only what ministries are configured to receive is stored here; the rest of the source
event (the applicant's contacts, the form, documents) never enters this store.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import event

from contracts.interagency import DossierStatus
from motcua.core.tracing import TracedAggregate
from services.interagency.curation import Dossier


class ForwardedDossier(TracedAggregate):
    """What the feeds have said about one dossier, and who receives it."""

    @staticmethod
    def create_id(dossier_id: UUID) -> UUID:
        return dossier_id  # one per dossier; interagency has its own store

    @event("Opened")
    def __init__(
        self, *, dossier_id: UUID, code: str, procedure_id: str, ministries: list[str]
    ) -> None:
        self.code, self.procedure_id = code, procedure_id
        self.ministries = ministries  # decided at receipt, with the configuration then
        self.status = "in_progress"
        self.appointment_date: str | None = None
        self.sources: list[str] = []

    @event("Forwarded")
    def forward(
        self, *, source_event_id: str, message: dict[str, Any], disclosed: dict[str, Any]
    ) -> None:
        """``disclosed``: ministry code -> its extra fields, for every receiving ministry."""
        self.sources.append(source_event_id)
        self.status = message["status"]
        self.appointment_date = message["appointment_date"]

    def has_forwarded(self, source_event_id: UUID) -> bool:
        return str(source_event_id) in self.sources

    def view(self) -> Dossier:
        assert self.appointment_date is not None, "opened and forwarded in one save"
        return Dossier(
            self.code,
            self.procedure_id,
            cast(DossierStatus, self.status),
            date.fromisoformat(self.appointment_date),
        )
