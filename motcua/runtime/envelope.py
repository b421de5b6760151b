"""Envelope fields of a contract event, derived from the stored domain event.

The event id is a UUID5 of the producer, the aggregate id and its version, so
publishing the same stored event again yields the same ``event_id``.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5


def event_id_of(producer: str, originator_id: UUID, version: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"motcua:{producer}:{originator_id}:{version}")


def envelope(producer: str, event: Any) -> dict[str, Any]:
    """``event_id``, ``dossier_id``, ``occurred_at``, ``producer``, ``correlation_id``."""
    return {
        "event_id": event_id_of(producer, event.originator_id, event.originator_version),
        "dossier_id": event.originator_id,
        "occurred_at": event.timestamp,
        "producer": producer,
        "correlation_id": getattr(event, "correlation_id", "") or str(event.originator_id),
    }
