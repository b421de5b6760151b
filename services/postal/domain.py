"""A shipment: one dossier's result on its way to the applicant by post.

Requested when the result is issued for post (with the address the applicant gave at
submission), ordered once the operator gives its tracking number, then moved by the
operator's callbacks. The operator may send a callback twice, late or out of order: a
callback already seen (by its id) or one that would move the shipment backwards
(picked up after delivered) changes nothing, so the timeline and the notices see each
step once and in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from motcua.core.tracing import TracedAggregate

# How far along a status is; a callback that does not move forward changes nothing.
RANK = {"requested": 0, "ordered": 1, "picked_up": 2, "delivered": 3, "returned": 3}


class Shipment(TracedAggregate):
    @staticmethod
    def create_id(dossier_id: UUID) -> UUID:
        return dossier_id  # one per dossier; the service has its own store

    @event("Requested")
    def __init__(
        self, *, dossier_id: UUID, code: str, sender: str, address: dict[str, Any]
    ) -> None:
        self.code, self.sender, self.address = code, sender, address
        self.status = "requested"
        self.tracking_number: str | None = None
        self.seen: list[str] = []  # the operator's callback ids applied

    def moves(self, status: str, callback_id: str) -> bool:
        """Whether a callback would change anything."""
        return callback_id not in self.seen and RANK[status] > RANK[self.status]

    @event("Ordered")
    def ordered(self, *, tracking_number: str, at: datetime) -> None:
        self.tracking_number, self.status = tracking_number, "ordered"

    @event("Tracked")
    def tracked(
        self,
        *,
        status: str,
        callback_id: str,
        tracking_number: str,
        at: datetime,
        received_by: str = "",
        reason: str = "",
    ) -> None:
        self.status, self.tracking_number = status, tracking_number
        self.seen.append(callback_id)
