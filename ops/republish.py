"""Rebuild ``dossier-events`` from the services' stores after the broker lost its data.

The stores are the source of truth: every contract event was derived from a stored
event and is derived again identically (same ``event_id``, same ``producer`` and
``position`` headers). Republishing therefore cannot invent or change anything; the
consumers' watermarks (``consumer.py``) skip what they had applied already.

Two orders matter and both are kept:

* each producer's events in position order, on the same partition (same key), which is
  what the watermarks rely on;
* across producers, cause before effect (intake's ``DossierReceived`` before workflow's
  ``StepStarted`` of the same dossier): the producers' streams are merged by the time
  each event happened, so a lagging consumer sees them in the order they arose.

The services must not publish while this runs (``motcua republish`` refuses unless the
topic is empty, and the embedded stack stops them first). Afterwards each relay's
position is the last republished notification, and every consumer's stored offsets are
forgotten so that it reads the new topic from the beginning.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.application import Application

from contracts.events import Envelope
from motcua.runtime.chaining import Chainer
from motcua.runtime.kafka import ensure_topics, start_producer
from motcua.runtime.mapping import Held, ToContract, contracts_of
from motcua.runtime.positions import forget_consumer_offsets
from motcua.runtime.relay import set_relay_position
from motcua.runtime.settings import Settings
from motcua.runtime.store import Store, Tx
from motcua.runtime.topic_reader import TopicMissing, open_topic
from services.registry import SERVICES, open_store

log = structlog.get_logger(__name__)

PAGE = 1000


@dataclass
class Source:
    """One service's store and the mapping of its stored events to contracts."""

    name: str
    app: Application[UUID]
    store: Store
    to_contract: ToContract | None
    chainer: Chainer = field(init=False)

    def __post_init__(self) -> None:
        self.chainer = Chainer(self.name)

    def events(self) -> Iterator[tuple[float, str, int, Envelope, bytes]]:
        """(occurred_at, producer, position, event, message) in position order, linked
        into the dossiers' chains from the first event, as the relay linked them. A page is
        mapped as the relay maps a batch: each aggregate rebuilt once for it."""
        assert self.to_contract is not None
        self.chainer = Chainer(self.name)
        held = Held()  # across pages too
        start = 1
        while True:
            page = self.app.recorder.select_notifications(start, PAGE)
            stored = [self.app.mapper.to_domain_event(n) for n in page]
            contracts = contracts_of(stored, self.to_contract, self.app.repository, held)
            for notification, event in zip(page, contracts, strict=True):
                if event is not None:
                    linked, payload = self.chainer.link(event)
                    yield (
                        linked.occurred_at.timestamp(),
                        self.name,
                        notification.id,
                        linked,
                        payload,
                    )
            if len(page) < PAGE:
                return
            start = page[-1].id + 1

    def last_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0


def open_sources(settings: Settings) -> list[Source]:
    """Every service's store as built by its composition root (nothing is started)."""
    opened = [open_store(entry, settings) for entry in SERVICES]
    # Stats publishes nothing, interagency only its feeds: no contract mapping here.
    return [Source(o.service.name, o.app, o.store, o.to_contract) for o in opened]


def merged(sources: list[Source]) -> Iterator[tuple[float, str, int, Envelope, bytes]]:
    """All producers' events: each producer's in position order, interleaved by time."""
    return heapq.merge(*(s.events() for s in sources if s.to_contract is not None))


async def topic_is_empty(settings: Settings) -> bool:
    """True when the dossier topic holds no message (as after a broker lost its data)."""
    try:
        async with open_topic(settings, settings.dossier_topic) as reader:
            return await reader.remaining() == 0
    except TopicMissing:
        return True


async def republish(
    settings: Settings,
    sources: list[Source],
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Publish every stored contract event again; reset relays and consumers."""
    await ensure_topics(settings, [settings.dossier_topic])
    producer = await start_producer(settings)
    counts: dict[str, int] = {s.name: 0 for s in sources if s.to_contract is not None}
    pending: list[Any] = []
    try:
        for _, name, position, event, payload in merged(sources):
            headers = [
                ("producer", name.encode()),
                ("position", str(position).encode()),
                ("type", type(event).__name__.encode()),
            ]
            pending.append(
                await producer.send(
                    settings.dossier_topic,
                    payload,
                    key=str(event.dossier_id).encode(),
                    headers=headers,
                )
            )
            counts[name] += 1
            if len(pending) >= PAGE:
                await _acknowledged(pending, progress)
        await _acknowledged(pending, progress)
    finally:
        await producer.stop()
    for source in sources:
        source.store.write(_reset(source))
    log.info("republished", **counts)
    return counts


async def _acknowledged(pending: list[Any], progress: Callable[[int], None] | None) -> None:
    for future in pending:
        await future
    if progress:
        progress(len(pending))
    pending.clear()


def _reset(source: Source) -> Callable[[Tx], None]:
    """The relay continues after what was republished, from the heads it arrived at;
    consumers read from the start (their watermarks stay: they make reading again
    harmless)."""
    last = source.last_position() if source.to_contract is not None else None
    heads = source.chainer.save()

    def write(tx: Tx) -> None:
        if last is not None:
            set_relay_position(tx, source.name, last)
            heads(tx)
        forget_consumer_offsets(tx)

    return write
