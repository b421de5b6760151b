"""The tracked consumer: exactly-once in effect on an at-least-once topic.

For every message the handler's effects (new events, read-model rows) and the
consumer's position are committed in one store transaction. Two positions are kept:

* per partition, the next Kafka offset, so the consumer resumes from its own store
  on start and on every partition assignment (not from Kafka's committed offsets);
* per partition and producer, the highest outbox position applied. The relay may
  publish a batch twice after a crash (new offsets, same events); the repeat carries
  a position at or below the watermark, the conditional update touches no row, and
  the transaction is rolled back: the message is skipped.

Undecodable messages (not JSON, not a contract, a schema version this consumer does not
read, or larger than any contract event) go to ``<service>.dlq`` with the reason in the
headers; a handler that keeps failing sends the message there too, after retries, so
nothing crash-loops and nothing is silently dropped. The DLQ record keeps the original
headers, trace context included.

Each new message is applied inside a CONSUMER span that continues the trace context of
its headers (``tracing.py``): events the handler creates remember it, and the relay
sends it on with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from contracts.events import Envelope, UndecodableEvent, decode
from motcua import metrics
from motcua.kafka import header
from motcua.retry import retry_on_conflict
from motcua.store import Store, Tx, Write
from motcua.tracing import context_from

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)

HANDLER_ATTEMPTS = 3
# Contract events are small (documents travel by hash): anything bigger is not one of
# ours, and would cost every consumer its memory. Kept in the DLQ cut to DLQ_KEEP_BYTES.
MAX_MESSAGE_BYTES = 256 * 1024
DLQ_KEEP_BYTES = 64 * 1024

CREATE_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS {consumer_offsets} (
        consumer TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        PRIMARY KEY (consumer, topic, part)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS {consumer_watermarks} (
        consumer TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,
        producer TEXT NOT NULL, position BIGINT NOT NULL,
        PRIMARY KEY (consumer, topic, part, producer)
    )
    """,
)


class AlreadyApplied(Exception):
    """Raised inside the transaction to roll it back: the message was applied before."""


@dataclass
class Delivery:
    """One message being applied; ``writes`` must join the handler's transaction."""

    consumer: str
    record: ConsumerRecord[bytes, bytes]
    event: Envelope | None
    recorded: bool = field(default=False)

    @property
    def producer(self) -> str:
        return header(self.record.headers, "producer") or ""

    @property
    def position(self) -> int:
        raw = header(self.record.headers, "position")
        return int(raw) if raw and raw.isdigit() else self.record.offset

    @property
    def writes(self) -> list[Write]:
        """The tracking writes; pass them as ``app.save(..., writes=delivery.writes)``."""
        return [self._track]

    def _track(self, tx: Tx) -> None:
        r = self.record
        tx.execute(
            "INSERT INTO {consumer_watermarks} (consumer, topic, part, producer, position) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (consumer, topic, part, producer) "
            "DO UPDATE SET position = excluded.position "
            "WHERE {consumer_watermarks}.position < excluded.position RETURNING position",
            (self.consumer, r.topic, r.partition, self.producer, self.position),
        )
        if tx.fetchone() is None:
            raise AlreadyApplied
        tx.execute(
            "INSERT INTO {consumer_offsets} (consumer, topic, part, next_offset) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (consumer, topic, part) "
            "DO UPDATE SET next_offset = excluded.next_offset",
            (self.consumer, r.topic, r.partition, r.offset + 1),
        )
        self.recorded = True


Handler = Callable[[Delivery], None]


class TrackedConsumer:
    """Consumes ``topics`` in group ``name``; applies each event with ``handler`` once."""

    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        store: Store,
        handler: Handler,
        bootstrap_servers: str,
        dlq_producer: AIOKafkaProducer,
        dlq_topic: str,
        max_records: int = 500,
        group_id: str | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.name, self.topics, self.store, self.handler = name, topics, store, handler
        self.dlq_producer, self.dlq_topic = dlq_producer, dlq_topic
        self.applied = self.skipped = self.dead_lettered = 0
        self.max_records, self.max_message_bytes = max_records, max_message_bytes
        # Highest applied position per (topic, partition, producer): a cheap first check.
        # The conditional update inside the transaction remains the real guarantee.
        self.watermarks: dict[tuple[str, int, str], int] = {}
        self.consumer = AIOKafkaConsumer(
            **(client_options or {"bootstrap_servers": bootstrap_servers}),
            group_id=group_id or name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        store.write(*[lambda tx, s=s: tx.execute(s) for s in CREATE_TABLES])

    async def run(self) -> None:
        """Consume until cancelled."""
        self.consumer.subscribe(self.topics, listener=_ResumeFromStore(self))
        await self.consumer.start()
        try:
            while True:
                batches = await self.consumer.getmany(timeout_ms=500, max_records=self.max_records)
                for tp, records in batches.items():
                    for record in records:
                        await self._apply(record)
                    highwater = self.consumer.highwater(tp)
                    if highwater is not None:
                        lag = max(0, highwater - records[-1].offset - 1)
                        metrics.CONSUMER_LAG.labels(self.name, tp.topic, tp.partition).set(lag)
                    # Informational only (lag dashboards); resuming uses the store.
                    await self.consumer.commit({tp: records[-1].offset + 1})
        finally:
            await self.consumer.stop()

    def stored_offsets(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
        rows = self.store.read(
            "SELECT topic, part, next_offset FROM {consumer_offsets} WHERE consumer = ?",
            (self.name,),
        )
        stored = {TopicPartition(r["topic"], int(r["part"])): int(r["next_offset"]) for r in rows}
        return {tp: stored[tp] for tp in partitions if tp in stored}

    def load_watermarks(self, partitions: set[TopicPartition]) -> None:
        rows = self.store.read(
            "SELECT topic, part, producer, position FROM {consumer_watermarks} WHERE consumer = ?",
            (self.name,),
        )
        for r in rows:
            if TopicPartition(r["topic"], int(r["part"])) in partitions:
                self.watermarks[(r["topic"], int(r["part"]), r["producer"])] = int(r["position"])

    def _seen(self, delivery: Delivery) -> bool:
        r = delivery.record
        return (
            self.watermarks.get((r.topic, r.partition, delivery.producer), -1) >= delivery.position
        )

    def _remember(self, delivery: Delivery) -> None:
        r = delivery.record
        self.watermarks[(r.topic, r.partition, delivery.producer)] = delivery.position

    async def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if self._seen(Delivery(self.name, record, None)):
            self.skipped += 1
            metrics.EVENTS_SKIPPED.labels(self.name).inc()
            return
        with tracer.start_as_current_span(
            f"process {record.topic}",
            context=context_from(record.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.topic,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "messaging.consumer.group.name": self.name,
            },
        ) as span:
            await self._apply_new(record, span)

    async def _apply_new(self, record: ConsumerRecord[bytes, bytes], span: Span) -> None:
        """A message not applied before, inside its consumer span: decode, handle, or DLQ."""
        bound = log.bind(topic=record.topic, partition=record.partition, offset=record.offset)
        size = len(record.value or b"")
        if size > self.max_message_bytes:
            await self._dead_letter(record, f"oversized: {size} bytes > {self.max_message_bytes}")
            return
        try:
            event = decode(record.value or b"")
        except UndecodableEvent as error:
            await self._dead_letter(record, f"undecodable: {error}")
            return
        if event is not None:  # None: a type this consumer does not know (only tracked)
            span.set_attributes(
                {
                    "messaging.message.id": str(event.event_id),
                    "motcua.event.type": type(event).__name__,
                    "motcua.event.producer": event.producer,
                    "motcua.dossier_id": str(event.dossier_id),
                }
            )
        delivery = Delivery(self.name, record, event)
        for attempt in range(1, HANDLER_ATTEMPTS + 1):
            try:
                with metrics.HANDLER_SECONDS.labels(self.name).time():
                    await asyncio.to_thread(self._apply_in_store, delivery)
                metrics.EVENTS_APPLIED.labels(self.name).inc()
                return
            except AlreadyApplied:
                self.skipped += 1
                metrics.EVENTS_SKIPPED.labels(self.name).inc()
                bound.info("skipped message applied before", producer=delivery.producer)
                return
            except Exception as error:  # a handler bug or a store outage: retry, then DLQ
                bound.warning("handler failed", attempt=attempt, error=repr(error))
                if attempt == HANDLER_ATTEMPTS:
                    await self._dead_letter(record, f"handler failed: {error!r}")
                    return
                await asyncio.sleep(0.2 * 2**attempt)

    @retry_on_conflict
    def _apply_in_store(self, delivery: Delivery) -> None:
        """Handler and tracking in one transaction; a lost race is decided again at once
        on the newer state (it is not a failure that leads to the DLQ)."""
        delivery.recorded = False  # an earlier attempt's tracking write was rolled back
        if delivery.event is not None:
            self.handler(delivery)
        if not delivery.recorded:
            self.store.write(*delivery.writes)
        self._remember(delivery)
        self.applied += 1

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        headers = [
            *list(record.headers or ()),
            ("dlq-reason", reason.encode()[:4000]),
            ("dlq-source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
            ("dlq-consumer", self.name.encode()),
            ("dlq-at", str(time.time()).encode()),
        ]
        value = record.value
        if value is not None and len(value) > DLQ_KEEP_BYTES:
            headers.append(("dlq-truncated-from", str(len(value)).encode()))
            value = value[:DLQ_KEEP_BYTES]
        await self.dlq_producer.send_and_wait(
            self.dlq_topic, value, key=record.key, headers=headers
        )
        delivery = Delivery(self.name, record, None)
        with contextlib.suppress(AlreadyApplied):
            await asyncio.to_thread(self.store.write, *delivery.writes)
        self._remember(delivery)
        self.dead_lettered += 1
        trace.get_current_span().set_status(StatusCode.ERROR, reason[:200])
        metrics.DEAD_LETTERED.labels(self.name, reason.split(":", 1)[0]).inc()
        log.error("message sent to dead-letter topic", dlq=self.dlq_topic, reason=reason)


class _ResumeFromStore(ConsumerRebalanceListener):  # type: ignore[misc]
    """On every assignment, seek to the positions recorded in the store."""

    def __init__(self, owner: TrackedConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        stored = await asyncio.to_thread(self.owner.stored_offsets, set(assigned))
        await asyncio.to_thread(self.owner.load_watermarks, set(assigned))
        for tp in assigned:
            if tp in stored:
                self.owner.consumer.seek(tp, stored[tp])
            else:
                await self.owner.consumer.seek_to_beginning(tp)
        log.info("partitions assigned", consumer=self.owner.name, resume=len(stored))
