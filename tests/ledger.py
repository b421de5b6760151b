"""A minimal downstream service for tests: applies every event to a table, tracked.

It is what every real consumer does (workflow, notify, stats): the row and the
consumer's positions are committed in one transaction by ``TrackedConsumer``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from motcua.consumer import Delivery, Handler, TrackedConsumer
from motcua.kafka import ensure_topics, start_producer
from motcua.settings import Settings
from motcua.store import Store, Tx, store_env


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

    def handle(self, delivery: Delivery) -> None:
        assert delivery.event is not None
        event = delivery.event

        def insert(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO {ledger} (n, event_id, type) VALUES "
                "((SELECT COUNT(*) FROM {ledger}), ?, ?)",
                (str(event.event_id), type(event).__name__),
            )

        self.store.write(insert, *delivery.writes)

    def rows(self) -> list[dict[str, object]]:
        return self.store.read("SELECT event_id, type FROM {ledger} ORDER BY n")


async def consume_until(
    ledger: Ledger,
    settings: Settings,
    done: Callable[[TrackedConsumer], bool],
    *,
    name: str = "ledger",
    group_id: str | None = None,
    timeout: float = 30.0,
    settle: float = 1.0,
) -> TrackedConsumer:
    """Run a tracked consumer into ``ledger`` until ``done`` (plus ``settle`` s), then stop."""
    await ensure_topics(settings, [settings.dossier_topic, settings.dlq_topic(name)])
    producer = await start_producer(settings)
    consumer = TrackedConsumer(
        name=name,
        topics=[settings.dossier_topic],
        store=ledger.store,
        handler=ledger.handle,
        bootstrap_servers=settings.bootstrap_servers,
        dlq_producer=producer,
        dlq_topic=settings.dlq_topic(name),
        group_id=group_id or f"{settings.dossier_topic}-{name}",
    )
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
    store: Store, handler: Handler, topic: str = "x", dlq_producer: Any = None
) -> TrackedConsumer:
    """A consumer whose records the test hands to ``_apply`` itself: no broker."""

    async def build() -> TrackedConsumer:  # aiokafka wants a running loop
        return TrackedConsumer(
            name="t",
            topics=[topic],
            store=store,
            handler=handler,
            bootstrap_servers="127.0.0.1:1",
            dlq_producer=dlq_producer,
            dlq_topic="t.dlq",
        )

    return asyncio.run(build())
