"""A dossier's record for the national portal, one event per version.

Its versions are the aggregate's: ``Opened`` is version 1 and each ``Changed`` the
next, each holding the whole record as it then stood. The record is what the province
tells the portal; whether the portal has it yet is the sync's business (the
``portal_records`` row), so only the consumer ever saves this aggregate and the pusher
never conflicts with it. The history answers an inspector's "what did the portal
hear about this dossier, and when".
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from motcua.core.tracing import TracedAggregate


class PortalDossier(TracedAggregate):
    @staticmethod
    def create_id(dossier_id: UUID) -> UUID:
        return dossier_id  # one per dossier; the service has its own store

    @event("Opened")
    def __init__(self, *, dossier_id: UUID, record: dict[str, Any]) -> None:
        self.record = record

    @property
    def code(self) -> str:
        return str(self.record["MaHoSo"])

    @event("Changed")
    def change(self, *, record: dict[str, Any]) -> None:
        self.record = record
