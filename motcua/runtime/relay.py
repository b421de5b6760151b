"""The outbox relay: a service's notification log, published in order to Kafka.

A service never writes its store and then publishes separately. The relay reads
new notifications after its recorded position, publishes them as contract events
keyed by dossier id through the topic's FastStream publisher (``publishing.py``),
waits for the broker's acknowledgement of all of them, and only then records the new
position. A crash between the two publishes a batch again; consumers recognise the
repeats by the ``producer``/``position`` headers (see ``consumer.py``).

Each event is linked into its dossier's chain on the way out (``chaining.py``): the
heads of the strands move in the transaction that records the position, so a batch
published again is linked again from the same heads, into the same messages.

Each record's headers carry the trace context its event was created in (``traceparent``,
``tracestate``; see ``tracing.py``), beside ``producer``, ``position`` and ``type``: the
consumers continue that trace. The envelope (and so the chain) does not change.

A batch is mapped to contract events as a whole (``mapping.py``): each aggregate whose
facts the messages carry is rebuilt once per batch, not once per event. Its records are
all handed to the producer before the acknowledgements are awaited together.

Only one relay per store publishes at a time: it holds a lease row in the store,
so two service instances sharing a PostgreSQL database do not both publish.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from uuid import UUID

import structlog
from aiokafka import AIOKafkaProducer
from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from motcua.core import metrics
from motcua.core.tracing import stored_trace
from motcua.runtime.chaining import Chainer, create_table, load_heads
from motcua.runtime.faults import Faults
from motcua.runtime.mapping import Held, ToContract, contracts_of
from motcua.runtime.publishing import Topic, topic_of
from motcua.runtime.store import Store, Tx, Write

log = structlog.get_logger(__name__)

LEASE_SECONDS = 10.0

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS {relay_positions} (
    relay TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    owner TEXT,
    lease_until DOUBLE PRECISION NOT NULL
)
"""


class OutboxRelay:
    """Publishes ``app``'s notifications to ``topic`` in order, at least once."""

    def __init__(
        self,
        app: Application[UUID],
        store: Store,
        producer: AIOKafkaProducer | Topic,
        *,
        name: str,
        topic: str,
        to_contract: ToContract,
        batch_size: int = 500,
        idle_seconds: float = 0.05,
        faults: Faults | None = None,
    ) -> None:
        self.app, self.store, self.producer = app, store, producer
        self.sink = topic_of(producer, topic)  # the service's FastStream publisher
        self.name, self.topic, self.to_contract = name, topic, to_contract
        self.batch_size, self.idle_seconds = batch_size, idle_seconds
        self.faults = faults  # crash tests only (faults.py); None in production
        self.owner = uuid.uuid4().hex
        self.published = 0
        self.held = Held()  # aggregates rebuilt by earlier batches (mapping.py)
        self._renew_at = 0.0
        store.write(lambda tx: tx.execute(CREATE_TABLE))
        store.write(self._insert_row)
        create_table(store)

    def _insert_row(self, tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {relay_positions} (relay, position, owner, lease_until) "
            "VALUES (?, 0, NULL, 0) ON CONFLICT (relay) DO NOTHING",
            (self.name,),
        )

    async def run(self) -> None:
        """Publish forever; leave the loop only by cancellation."""
        while True:
            published = await self.publish_once()
            if published == 0:
                leader = self._renew_at > time.monotonic()
                await asyncio.sleep(self.idle_seconds if leader else LEASE_SECONDS / 4)

    async def _leading(self) -> bool:
        """Renew the lease when half of it has run out; False while another relay holds it."""
        if time.monotonic() < self._renew_at:
            return True
        if await asyncio.to_thread(self._take_lease):
            self._renew_at = time.monotonic() + LEASE_SECONDS / 2
            return True
        return False

    async def publish_once(self) -> int:
        """Publish one batch after the recorded position; return how many notifications.

        Publishes nothing (returns 0) while another relay holds the lease.
        """
        if not await self._leading():
            return 0
        position = await asyncio.to_thread(self.position)
        notifications = await asyncio.to_thread(
            self.app.recorder.select_notifications, position + 1, self.batch_size
        )
        if not notifications:
            return 0
        chainer = await self._send(notifications)
        if self.faults is not None:
            self.faults.after_publish(self.name)
        last = notifications[-1].id
        if not await asyncio.to_thread(self._record, last, chainer.save()):
            log.warning("relay lost its lease; another instance publishes now", relay=self.name)
            self._renew_at = 0.0
            return 0
        self.published += len(notifications)
        metrics.RELAY_PUBLISHED.labels(self.name).inc(len(notifications))
        return len(notifications)

    async def _send(self, notifications: Sequence[Notification]) -> Chainer:
        """Send the batch's contract events, linked; the chainer holds the moved heads."""
        stored = [self.app.mapper.to_domain_event(n) for n in notifications]
        contracts = contracts_of(stored, self.to_contract, self.app.repository, self.held)
        events = [
            (n, contract, stored_trace(event))
            for n, event, contract in zip(notifications, stored, contracts, strict=True)
            if contract is not None
        ]
        ids = {e.dossier_id for _, e, _ in events}
        chainer = Chainer(
            self.name, await asyncio.to_thread(load_heads, self.store, self.name, ids)
        )
        futures = []
        for notification, unlinked, trace in events:
            event, payload = chainer.link(unlinked)
            headers = {
                "producer": self.name,
                "position": str(notification.id),
                "type": type(event).__name__,
                **trace,
            }
            futures.append(
                await self.sink.send(
                    payload,
                    key=str(event.dossier_id).encode(),
                    headers=headers,
                    correlation_id=event.correlation_id,
                )
            )
        await asyncio.gather(*futures)
        return chainer

    def position(self) -> int:
        row = self.store.read_one(
            "SELECT position FROM {relay_positions} WHERE relay = ?", (self.name,)
        )
        return int(row["position"]) if row else 0

    def lag(self) -> int:
        """Notifications recorded but not yet published."""
        return max(0, (self.app.recorder.max_notification_id() or 0) - self.position())

    def _take_lease(self) -> bool:
        taken: list[bool] = []

        def take(tx: Tx) -> None:
            now = time.time()
            tx.execute(
                "UPDATE {relay_positions} SET owner = ?, lease_until = ? "
                "WHERE relay = ? AND (owner = ? OR owner IS NULL OR lease_until < ?) "
                "RETURNING relay",
                (self.owner, now + LEASE_SECONDS, self.name, self.owner, now),
            )
            taken.append(tx.fetchone() is not None)

        self.store.write(take)
        return taken[0]

    def _record(self, position: int, heads: Write) -> bool:
        """The new position and the strands' heads, only while this relay holds the lease."""
        recorded: list[bool] = []

        def record(tx: Tx) -> None:
            tx.execute(
                "UPDATE {relay_positions} SET position = ? WHERE relay = ? AND owner = ? "
                "RETURNING relay",
                (position, self.name, self.owner),
            )
            recorded.append(tx.fetchone() is not None)
            if recorded[0]:
                heads(tx)

        self.store.write(record)
        return recorded[0]
