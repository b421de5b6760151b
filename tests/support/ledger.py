"""A minimal downstream service for tests: applies every event to a table, tracked.

It is what every real consumer does (workflow, notify, stats): the row and the
consumer's positions are committed in one transaction by ``TrackedConsumer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer, ConsumerRecord
from eventsourcing.application import Application

from contracts.envelope import Envelope
from contracts.events import EVENT_TYPES, encode
from motcua.runtime.consumer import Outcome, TrackedConsumer
from motcua.runtime.handlers import Handlers
from motcua.runtime.kafka import ensure_topics, start_producer
from motcua.runtime.settings import Settings
from motcua.runtime.store import Store, Tx, store_env
from motcua.runtime.unit_of_work import UnitOfWork


class Ledger:
    """Records each applied event id once per application (duplicates would show)."""

    def __init__(self, var_dir: Path, database_url: str | None = None) -> None:
        var_dir.mkdir(parents=True, exist_ok=True)
        self.app: Application[UUID] = Application(store_env(database_url, str(var_dir), "ledger"))
        self.store = Store(self.app.recorder)  # type: ignore[arg-type]
        self.store.write(
            lambda tx: tx.execute(
                "CREATE TABLE IF NOT EXISTS {ledger} (n INTEGER, event_id TEXT, type TEXT)"
            )
        )

    def handlers(self) -> Handlers:
        """Every contract event type, into the ledger."""
        return Handlers({tuple(EVENT_TYPES.values()): self.record})

    @staticmethod
    def record(event: Envelope, uow: UnitOfWork) -> None:
        def insert(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO {ledger} (n, event_id, type) VALUES "
                "((SELECT COUNT(*) FROM {ledger}), ?, ?)",
                (str(event.event_id), type(event).__name__),
            )

        uow.write(insert)

    def rows(self) -> list[dict[str, object]]:
        return self.store.read("SELECT event_id, type FROM {ledger} ORDER BY n")


def tracked(
    ledger: Ledger,
    settings: Settings,
    dlq_producer: AIOKafkaProducer,
    *,
    name: str = "ledger",
    group_id: str | None = None,
    kind: type[TrackedConsumer] = TrackedConsumer,
) -> TrackedConsumer:
    """A tracked consumer of the topic into ``ledger`` (not started)."""
    return kind(
        name=name,
        topics=[settings.dossier_topic],
        app=ledger.app,
        store=ledger.store,
        handlers=ledger.handlers(),
        bootstrap_servers=settings.bootstrap_servers,
        dlq_producer=dlq_producer,
        dlq_topic=settings.dlq_topic(name),
        group_id=group_id or f"{settings.dossier_topic}-{name}",
    )


async def consume_until(
    ledger: Ledger,
    settings: Settings,
    done: Callable[[TrackedConsumer], bool],
    *,
    name: str = "ledger",
    group_id: str | None = None,
    timeout: float = 30.0,
    settle: float = 1.0,
    kind: type[TrackedConsumer] = TrackedConsumer,
    dlq_producer: AIOKafkaProducer | None = None,
) -> TrackedConsumer:
    """Run a tracked consumer into ``ledger`` until ``done`` (plus ``settle`` s), then stop."""
    await ensure_topics(settings, [settings.dossier_topic, settings.dlq_topic(name)])
    producer = dlq_producer or await start_producer(settings)
    consumer = tracked(ledger, settings, producer, name=name, group_id=group_id, kind=kind)
    task = asyncio.create_task(consumer.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done(consumer) and loop.time() < deadline and not task.done():  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await asyncio.sleep(settle)  # time for a wrong extra delivery to show up
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await producer.stop()
    return consumer


def offline_consumer(
    app: Application[UUID],
    store: Store,
    handlers: Handlers,
    topic: str = "x",
    dlq_producer: Any = None,
    name: str = "t",
) -> TrackedConsumer:
    """A consumer whose records the test hands to ``apply_batch`` or ``apply_in_store``
    itself: no broker."""

    async def build() -> TrackedConsumer:  # aiokafka wants a running loop
        return TrackedConsumer(
            name=name,
            topics=[topic],
            app=app,
            store=store,
            handlers=handlers,
            bootstrap_servers="127.0.0.1:1",
            dlq_producer=dlq_producer,
            dlq_topic=f"{name}.dlq",
        )

    return asyncio.run(build())


def contract_record(
    event: Envelope,
    offset: int,
    *,
    producer: str | None = None,
    position: int | None = None,
    topic: str = "dossier-events",
    partition: int = 0,
) -> ConsumerRecord[bytes, bytes]:
    """The record of ``event`` as the relay publishes it (type, producer, position)."""
    value = encode(event)
    headers = [
        ("producer", (producer or event.producer).encode()),
        ("position", str(offset if position is None else position).encode()),
        ("type", type(event).__name__.encode()),
    ]
    return ConsumerRecord(
        topic=topic, partition=partition, offset=offset, timestamp=0, timestamp_type=0,
        key=str(event.dossier_id).encode(), value=value, checksum=None,
        serialized_key_size=36, serialized_value_size=len(value), headers=headers,
    )  # fmt: skip


_positions = itertools.count(1)


def deliver(
    app: Application[UUID], store: Store, handlers: Handlers, *events: Envelope, name: str = "t"
) -> Outcome:
    """Apply ``events`` as one fetched batch through a consumer's unit of work, the way
    the service's consumer would. Offsets and positions only grow from call to call."""
    consumer = offline_consumer(app, store, handlers, "dossier-events", name=name)
    return consumer.apply_in_store([contract_record(e, next(_positions)) for e in events])
