"""The topics interagency publishes to, and the relays that publish them.

One feed per topic: the default ``interagency-events`` and ``interagency-events.<code>``
per configured ministry. Each feed is an ``OutboxRelay`` over the same store with a
position (and lease) of its own, so a ministry's topic never waits for another's, and
each topic receives the store's events in order, keyed by dossier id.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.domain import DomainEventProtocol

from contracts.envelope import Envelope
from contracts.interagency import INTERAGENCY_EVENT_TYPES, parse
from motcua.kafka import ensure_topics, start_producer
from motcua.relay import OutboxRelay
from motcua.service import RelayWorker
from motcua.settings import Settings
from services.interagency.application import InteragencyApplication
from services.interagency.curation import PRODUCER
from services.interagency.ministries import Ministry

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Feed:
    """One topic; ``name`` is its relay's name and the events' ``producer``."""

    name: str
    topic: str
    ministry: str | None = None

    def to_contract(self, event: DomainEventProtocol[UUID]) -> Envelope | None:
        """The curated event of a ``Forwarded`` event for this feed; None otherwise."""
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


def feeds_of(settings: Settings, ministries: tuple[Ministry, ...]) -> list[Feed]:
    default = Feed(PRODUCER, settings.interagency_topic)
    return [
        default,
        *(
            Feed(f"{PRODUCER}.{m.code}", f"{settings.interagency_topic}.{m.code}", m.code)
            for m in ministries
        ),
    ]


class FeedRelayWorker(RelayWorker):
    """Runs one relay per feed on one producer; restarts them all after an error."""

    def __init__(self, settings: Settings, app: InteragencyApplication, feeds: list[Feed]) -> None:
        super().__init__(settings, app, app.store, PRODUCER, feeds[0].to_contract)
        self.feeds = feeds
        self.relays: list[OutboxRelay] = []

    async def _run_once(self) -> None:
        s = self.settings
        await ensure_topics(s, [f.topic for f in self.feeds])
        producer = await start_producer(s)
        try:
            self.relays = [
                OutboxRelay(
                    self.app,
                    self.store,
                    producer,
                    name=f.name,
                    topic=f.topic,
                    to_contract=f.to_contract,
                    batch_size=s.relay_batch_size,
                    idle_seconds=s.relay_idle_seconds,
                )
                for f in self.feeds
            ]
            self.relay = self.relays[0]  # the default feed's lag is the worker's metric
            self.connected = True
            log.info("feeds publishing", topics=[f.topic for f in self.feeds])
            # A failing relay cancels the others; the worker then restarts them all.
            async with asyncio.TaskGroup() as group:
                for relay in self.relays:
                    group.create_task(relay.run())
        finally:
            self.connected = False
            await producer.stop()
