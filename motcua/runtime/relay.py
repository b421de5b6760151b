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

This module owns ``relay_positions`` (one row per relay: its position and its lease):
the relay reads and writes it here, and so do the tools that look at or move a relay's
position (``relay_progress`` for interagency's feeds, ``relay_lag`` for the metrics,
``set_relay_position`` for republishing). The table itself is a step of
``migrations.py``, created when the store is opened.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

import structlog
from aiokafka import AIOKafkaProducer
from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from motcua.core import metrics
from motcua.core.tracing import stored_trace
from motcua.runtime.chaining import Chainer, load_heads
from motcua.runtime.faults import Faults
from motcua.runtime.mapping import Held, ToContract, contracts_of
from motcua.runtime.publishing import Topic, topic_of
from motcua.runtime.store import Store, Tx, Write

log = structlog.get_logger(__name__)

LEASE_SECONDS = 10.0


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
        store.write(self._insert_row)

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
        return relay_position(self.store, self.name)

    def lag(self) -> int:
        """Notifications recorded but not yet published."""
        return relay_lag(self.store, self.name)

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


def relay_position(reader: Store | Tx, relay: str) -> int:
    """The last notification ``relay`` published (0 before its first)."""
    rows = reader.read("SELECT position FROM {relay_positions} WHERE relay = ?", (relay,))
    return int(rows[0]["position"]) if rows else 0


def relay_positions(reader: Store | Tx) -> dict[str, int]:
    """Every relay's position in the store."""
    rows = reader.read("SELECT relay, position FROM {relay_positions}")
    return {r["relay"]: int(r["position"]) for r in rows}


@dataclass(frozen=True)
class RelayProgress:
    """How far a relay has published: its position and the notifications after it."""

    position: int
    lag: int


def relay_progress(store: Store, relays: Iterable[str]) -> dict[str, RelayProgress]:
    """Each of ``relays``' position and lag: the positions first, then the store's last
    notification, so that a lag is never shorter than it was when it was read."""
    positions = relay_positions(store)
    last = store.recorder.max_notification_id() or 0
    progress = {}
    for relay in relays:
        position = positions.get(relay, 0)
        progress[relay] = RelayProgress(position, max(0, last - position))
    return progress


def relay_lag(store: Store, relay: str) -> int:
    """Notifications recorded but not yet published by ``relay``."""
    return relay_progress(store, [relay])[relay].lag


def set_relay_position(tx: Tx, relay: str, position: int) -> None:
    """``relay`` continues after ``position``, its lease released: what republishing the
    whole store leaves (``ops/republish.py``). Only while no relay of the store runs."""
    tx.execute(
        "INSERT INTO {relay_positions} (relay, position, owner, lease_until) "
        "VALUES (?, ?, NULL, 0) ON CONFLICT (relay) "
        "DO UPDATE SET position = excluded.position, owner = NULL, lease_until = 0",
        (relay, position),
    )
