"""The topics interagency publishes to, and the relays that publish them.

One feed per topic: the default ``interagency-events`` and ``interagency-events.<code>``
per configured ministry. Each feed is a ``Route`` of the service's ``RelayWorker``: an
``OutboxRelay`` over the same store with a position (and lease) of its own, so a
ministry's topic never waits for another's, and each topic receives the store's events
in order, keyed by dossier id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from contracts.envelope import Envelope
from contracts.interagency import INTERAGENCY_EVENT_TYPES, parse
from motcua.runtime.mapping import BatchAggregates
from motcua.runtime.settings import Settings
from motcua.runtime.workers import Route
from services.interagency.curation import PRODUCER
from services.interagency.ministries import Ministry


@dataclass(frozen=True)
class Feed:
    """One topic; ``name`` is its relay's name and the events' ``producer``."""

    name: str
    topic: str
    ministry: str | None = None
    description: str = ""  # what it carries, for the AsyncAPI document

    def to_contract(self, event: DomainEventProtocol[UUID], _: BatchAggregates) -> Envelope | None:
        """The curated event of a ``Forwarded`` event for this feed; None otherwise. The
        message was curated when the event was stored: no aggregate is needed."""
        if type(event).__name__ != "Forwarded":
            return None
        forwarded: Any = event  # ForwardedDossier.Forwarded, a class made by eventsourcing
        message: dict[str, Any] = forwarded.message
        disclosed: dict[str, dict[str, Any]] = forwarded.disclosed
        if self.ministry is not None and self.ministry not in disclosed:
            return None
        extra = disclosed[self.ministry] if self.ministry is not None else {}
        return parse(_known({**message, **extra, "producer": self.name}))


def _known(data: dict[str, Any]) -> dict[str, Any]:
    """Stored messages outlive code versions: a field since removed from the contract is
    dropped rather than making the whole event unpublishable."""
    fields = INTERAGENCY_EVENT_TYPES[data["type"]].model_fields
    return {k: v for k, v in data.items() if k in fields}


def routes(feeds: list[Feed]) -> list[Route]:
    events = tuple(INTERAGENCY_EVENT_TYPES.values())
    return [Route(f.name, f.topic, f.to_contract, events, f.description) for f in feeds]


def feeds_of(settings: Settings, ministries: tuple[Ministry, ...]) -> list[Feed]:
    default = Feed(
        PRODUCER,
        settings.interagency_topic,
        description="interagency publishes the curated events of every forwarded dossier, "
        "without personal data: the optional personal fields are null",
    )
    return [
        default,
        *(
            Feed(
                f"{PRODUCER}.{m.code}",
                f"{settings.interagency_topic}.{m.code}",
                m.code,
                _description(m),
            )
            for m in ministries
        ),
    ]


def _description(ministry: Ministry) -> str:
    receives = [
        *(f"procedure {p}" for p in ministry.procedures),
        *(f"every dossier through agency {a}" for a in ministry.agencies),
    ]
    return (
        f"interagency publishes the feed of {ministry.name} (`{ministry.code}`): the "
        f"forwarded dossiers it receives ({', '.join(receives) or 'none'}), with the "
        f"personal fields its entry allows ({', '.join(ministry.fields) or 'none'})"
    )
