"""The tracked consumer: exactly-once in effect on an at-least-once topic.

Each fetched batch is applied as one unit of work (``unit_of_work.py``): the handlers'
new events and read-model rows and the consumer's positions commit in one store
transaction. Two positions are kept:

* per partition, the next Kafka offset, so the consumer resumes from its own store
  on start and on every partition assignment (not from Kafka's committed offsets);
* per partition and producer, the highest outbox position applied. The relay may
  publish a batch twice after a crash (new offsets, same events); the repeat carries
  a position at or below the watermark and is skipped, in memory first and, for
  certain, against the watermarks read in the transaction. The update of a watermark
  is conditional: if another instance raised it meanwhile, the unit is a lost race and
  is decided again on the newer state.

Records whose ``type`` header names an event the service does not handle (most of the
topic, for most services) are never decoded: their positions advance with the batch.
If any record of a batch fails, the batch is rolled back and applied again one record
at a time: the failing record is retried and, in the end, sent to ``<service>.dlq``
with the reason in the headers, and every other record is applied once. A store that
is away (``STORE_AWAY``: the database unreachable, or locked past its timeout) is no
fault of the record: nothing is dead-lettered for it, the batch fails whole and the
subscriber rewinds it after a growing pause (``subscription.py``). SQLite reports some
errors of the SQL itself under the same name: such a bug stalls the consumer, loudly,
rather than dead-lettering every record. Undecodable
records of a handled type (not JSON, not a contract, a schema version this consumer does
not read, or larger than any contract event) go there at once. The DLQ record keeps the
original headers, trace context included. Nothing crash-loops, nothing is dropped
silently.

The consumer runs as the batch subscriber of a FastStream ``KafkaBroker``
(``subscription.py``: manual acks, raw records, this listener, and the rewind of a batch
that failed past the fallback above). The unit of work is here only: FastStream's
handler calls ``apply_batch``, as the tests do without a broker.

Each handled event is applied inside a CONSUMER span that continues the trace context
of its headers (``tracing.py``): events the handler creates remember it, and the relay
sends it on with them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from eventsourcing.application import Application
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from contracts.events import Envelope, UndecodableEvent, decode
from motcua.core import metrics
from motcua.core.retry import retry_on_conflict
from motcua.core.tracing import context_from
from motcua.runtime.broker import kafka_broker
from motcua.runtime.handlers import Handlers
from motcua.runtime.kafka import header
from motcua.runtime.positions import (
    Positions,
    consumer_offsets,
    consumer_watermarks,
    position_of,
    producer_of,
)
from motcua.runtime.store import Store, Tx, inside_unit_of_work
from motcua.runtime.subscription import Rewind, subscribe
from motcua.runtime.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from faststream.kafka.subscriber.usecase import BatchSubscriber

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)

HANDLER_ATTEMPTS = 3
# The store away or locked past its timeout (eventsourcing's names for the drivers'
# errors): a record that met one is not at fault and is never dead-lettered for it.
STORE_AWAY = (OperationalError, InterfaceError)
# Contract events are small (documents travel by hash): anything bigger is not one of
# ours, and would cost every consumer its memory. Kept in the DLQ cut to DLQ_KEEP_BYTES.
MAX_MESSAGE_BYTES = 256 * 1024
DLQ_KEEP_BYTES = 64 * 1024


class Poison(Exception):
    """A record no handler can take (oversized or undecodable): it goes to the DLQ."""


@dataclass
class Outcome:
    """What one unit of work did: records applied (handled or only tracked), skipped."""

    applied: int = 0
    skipped: int = 0
    watermarks: dict[tuple[str, int, str], int] = field(default_factory=dict)


class TrackedConsumer:
    """Consumes ``topics`` in group ``name``; applies each fetched batch with ``handlers``
    in one unit of work, once."""

    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        app: Application[UUID],
        store: Store,
        handlers: Handlers,
        bootstrap_servers: str,
        dlq_producer: AIOKafkaProducer,
        dlq_topic: str,
        max_records: int = 500,
        group_id: str | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.name, self.topics, self.app, self.store = name, topics, app, store
        self.handlers = handlers
        self.dlq_producer, self.dlq_topic = dlq_producer, dlq_topic
        self.applied = self.skipped = self.dead_lettered = 0
        self.max_records, self.max_message_bytes = max_records, max_message_bytes
        # Highest applied position per (topic, partition, producer): a cheap first check.
        # The conditional update inside the transaction remains the real guarantee.
        self.watermarks: dict[tuple[str, int, str], int] = {}
        self.client_options = client_options or {"bootstrap_servers": bootstrap_servers}
        self.group_id = group_id or name
        self.subscriber: BatchSubscriber | None = None
        self._stand_in: AIOKafkaConsumer | None = None

    @property
    def consumer(self) -> AIOKafkaConsumer | None:
        """aiokafka's consumer under the running subscriber (``None`` while stopped)."""
        if self._stand_in is not None:
            return self._stand_in
        return self.subscriber.consumer if self.subscriber is not None else None

    @consumer.setter
    def consumer(self, stand_in: AIOKafkaConsumer) -> None:
        """Tests hand the listener a recorder of seeks in its place."""
        self._stand_in = stand_in

    def listener(self) -> ConsumerRebalanceListener:
        return _ResumeFromStore(self)

    def broker(self) -> KafkaBroker:
        """A FastStream broker of its own with this consumer's batch subscriber declared
        (``subscription.py``), not connected: ``run`` starts it, and the AsyncAPI document
        is generated from it (``devtools/asyncapi.py``)."""
        broker = kafka_broker(self.client_options, middlewares=[Rewind(self)], consumer_only=True)
        self.subscriber = subscribe(self, broker, self.group_id)
        return broker

    async def run(self) -> None:
        """Consume until cancelled, as the batch subscriber of its broker; raise if its
        consume loop ends (the worker restarts it)."""
        broker = self.broker()
        subscriber = self.subscriber
        assert subscriber is not None
        try:
            await broker.start()
            done, _ = await asyncio.wait(subscriber.tasks, return_when=asyncio.FIRST_COMPLETED)
            error = next(iter(done)).exception()
            raise RuntimeError(f"{self.name}: the consume loop ended ({error!r})") from error
        finally:
            self.subscriber = None
            await _stop(broker, self.name)

    async def on_batch(self, records: tuple[ConsumerRecord[bytes, bytes], ...]) -> None:
        """The subscriber's handler: the batch applied, then Kafka told how far we are (for
        lag dashboards only: resuming uses the store)."""
        await self.apply_batch(list(records))
        consumer = self.consumer
        if consumer is None:
            return
        last: dict[TopicPartition, int] = {}
        for record in records:
            last[TopicPartition(record.topic, record.partition)] = record.offset
        for tp, offset in last.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lag = max(0, highwater - offset - 1)
                metrics.CONSUMER_LAG.labels(self.name, tp.topic, tp.partition).set(lag)
        try:
            await consumer.commit({tp: offset + 1 for tp, offset in last.items()})
        except KafkaError as error:  # a rebalance meanwhile: the store has the positions
            log.info("informational commit refused", error=repr(error))

    async def first_unapplied(
        self, records: tuple[ConsumerRecord[bytes, bytes], ...]
    ) -> dict[TopicPartition, int]:
        """Per partition of ``records``, where to fetch again after the batch failed: the
        store's next offset, or the batch's first offset if the store does not answer."""
        earliest: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            earliest[tp] = min(earliest.get(tp, record.offset), record.offset)
        try:
            stored = await asyncio.to_thread(self.stored_offsets, set(earliest))
        except Exception as error:  # the store is away: back to the batch's first offsets;
            # what was applied of it is skipped by the watermarks when it comes again
            log.warning("stored positions unreadable; rewinding to the batch", error=repr(error))
            stored = {}
        return {tp: stored.get(tp, offset) for tp, offset in earliest.items()}

    async def apply_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """The batch in one unit of work; if any record fails, the batch is rolled back
        and applied again one record at a time, so only the failing one is retried and,
        in the end, dead-lettered."""
        fresh = [r for r in records if not self._seen(r)]
        self._count_skipped(len(records) - len(fresh))
        if not fresh:
            return
        try:
            outcome = await asyncio.to_thread(self.apply_in_store, fresh)
        except Exception as error:  # one record spoils the batch: isolate it
            log.info("batch rolled back; applying its records one by one", error=repr(error))
            for record in fresh:
                await self._apply_one(record)
            return
        self._settle(outcome)

    async def _apply_one(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """One record in a unit of work of its own: retried, then dead-lettered."""
        if self._seen(record):
            self._count_skipped(1)
            return
        bound = log.bind(topic=record.topic, partition=record.partition, offset=record.offset)
        for attempt in range(1, HANDLER_ATTEMPTS + 1):
            try:
                self._settle(await asyncio.to_thread(self.apply_in_store, [record]))
                return
            except Poison as error:
                await self._dead_letter(record, str(error))
                return
            except STORE_AWAY:
                raise  # no fault of the record: the subscriber rewinds the batch, later
            except Exception as error:  # a handler bug: retry, then DLQ
                bound.warning("handler failed", attempt=attempt, error=repr(error))
                if attempt == HANDLER_ATTEMPTS:
                    await self._dead_letter(record, f"handler failed: {error!r}")
                    return
                await asyncio.sleep(0.2 * 2**attempt)

    def apply_in_store(self, records: list[ConsumerRecord[bytes, bytes]]) -> Outcome:
        """Decode what this service handles (before the transaction: no lock is held
        while parsing), then apply it in one unit of work (timed, failed or not)."""
        with metrics.HANDLER_SECONDS.labels(self.name).time():
            return self._commit_decoded([(r, self._decode(r)) for r in records])

    @retry_on_conflict
    def _commit_decoded(self, decoded: list[tuple[ConsumerRecord[bytes, bytes], Any]]) -> Outcome:
        """Handlers and positions in one transaction. A lost race (an officer's command
        or another instance saved first) is decided again at once on the newer state:
        that is not a failure that leads to the DLQ."""
        outcome = Outcome()
        units: list[UnitOfWork] = []

        def work(tx: Tx) -> list[StoredEvent]:
            outcome.applied = outcome.skipped = 0
            uow = UnitOfWork(self.app, tx)
            units[:] = [uow]
            positions = Positions(self.name)
            positions.load(tx, {(r.topic, r.partition) for r, _ in decoded})
            for record, event in decoded:
                if positions.applied_before(record):
                    positions.pass_over(record)
                    outcome.skipped += 1
                    continue
                if event is not None:
                    self._handle(record, event, uow)
                positions.advance(record)
                outcome.applied += 1
            positions.write(tx)
            outcome.watermarks = positions.watermarks
            return uow.stored_events()

        self.store.record_unit(work)
        units[0].after_commit()
        return outcome

    def _decode(self, record: ConsumerRecord[bytes, bytes]) -> Envelope | None:
        """The event of a type this service handles; ``None`` for the others, which are
        recognised by their ``type`` header and never decoded (only tracked)."""
        kind = header(record.headers, "type")
        if kind is not None and not self.handlers.handles(kind):
            return None
        size = len(record.value or b"")
        if size > self.max_message_bytes:
            raise Poison(f"oversized: {size} bytes > {self.max_message_bytes}")
        try:
            event = decode(record.value or b"")
        except UndecodableEvent as error:
            raise Poison(f"undecodable: {error}") from None
        if event is None or not self.handlers.handles(type(event).__name__):
            return None  # a type this consumer does not know or handle (only tracked)
        return event

    def _span(self, record: ConsumerRecord[bytes, bytes], event: Envelope | None) -> Span:
        """A CONSUMER span continuing the trace of the record's headers."""
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
            "messaging.consumer.group.name": self.name,
        }
        if event is not None:
            attributes |= {
                "messaging.message.id": str(event.event_id),
                "motcua.event.type": type(event).__name__,
                "motcua.event.producer": event.producer,
                "motcua.dossier_id": str(event.dossier_id),
            }
        return tracer.start_span(
            f"process {record.topic}",
            context=context_from(record.headers),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        )

    def _handle(self, record: ConsumerRecord[bytes, bytes], event: Envelope, uow: Any) -> None:
        """The handler inside its record's span: what it creates carries the trace on."""
        with trace.use_span(self._span(record, event), end_on_exit=True), inside_unit_of_work():
            self.handlers(event, uow)

    def _settle(self, outcome: Outcome) -> None:
        self.watermarks.update(outcome.watermarks)
        self.applied += outcome.applied
        metrics.EVENTS_APPLIED.labels(self.name).inc(outcome.applied)
        self._count_skipped(outcome.skipped)

    def _count_skipped(self, count: int) -> None:
        if count:
            self.skipped += count
            metrics.EVENTS_SKIPPED.labels(self.name).inc(count)

    def stored_offsets(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
        stored = consumer_offsets(self.store, self.name)
        return {tp: stored[tp] for tp in partitions if tp in stored}

    def load_watermarks(self, partitions: set[TopicPartition]) -> None:
        for (topic, part, producer), position in consumer_watermarks(self.store, self.name).items():
            if TopicPartition(topic, part) in partitions:
                self.watermarks[(topic, part, producer)] = position

    def _seen(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        key = (record.topic, record.partition, producer_of(record))
        return self.watermarks.get(key, -1) >= position_of(record)

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
        await asyncio.to_thread(self._track_only, record)
        self.dead_lettered += 1
        span = self._span(record, None)
        span.set_status(StatusCode.ERROR, reason[:200])
        span.end()
        metrics.DEAD_LETTERED.labels(self.name, reason.split(":", 1)[0]).inc()
        log.error(
            "message sent to dead-letter topic",
            dlq=self.dlq_topic,
            reason=reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )

    def _track_only(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Record the position of a dead-lettered record, so it is not applied again."""
        positions = Positions(self.name)

        def work(tx: Tx) -> list[StoredEvent]:
            positions.load(tx, {(record.topic, record.partition)})
            if not positions.applied_before(record):
                positions.advance(record)
                positions.write(tx)
            return []

        self.store.record_unit(work)
        self.watermarks.update(positions.watermarks)


class _ResumeFromStore(ConsumerRebalanceListener):  # type: ignore[misc]
    """On every assignment, seek to the positions recorded in the store."""

    def __init__(self, owner: TrackedConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Seek to the stored positions. aiokafka only logs a listener's exception and
        then reads from Kafka's committed offsets, not ours: so the store is asked again
        until it answers, and nothing escapes."""
        delay = 0.2
        while True:
            try:
                stored = await asyncio.to_thread(self.owner.stored_offsets, set(assigned))
                await asyncio.to_thread(self.owner.load_watermarks, set(assigned))
                break
            except Exception as error:  # the store is away: the partitions wait for it
                log.warning("stored positions unreadable; retrying", error=repr(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        consumer = self.owner.consumer
        if consumer is None:
            return
        for tp in assigned & stored.keys():
            consumer.seek(tp, stored[tp])
        fresh = assigned - stored.keys()
        if fresh:  # one call: a call per partition makes aiokafka read one of them twice
            await consumer.seek_to_beginning(*fresh)
        log.info("partitions assigned", consumer=self.owner.name, resume=len(stored))


# How long a stopping service waits for its consumer to leave the group.
STOP_SECONDS = 2.0


async def _stop(broker: KafkaBroker, name: str) -> None:
    """Stop ``broker``; when the service itself is stopping, within ``STOP_SECONDS``.

    aiokafka's ``stop`` lets a pending join finish first, and after a kill -9 a join
    waits for the dead member's session to time out (10 s by default, longer if set):
    a service told to stop in that window would hang for it. Abandoning the join loses
    nothing, since positions live in the store; the broker drops the member after its
    session timeout, as it would after a crash. A restart of the consumer within the
    process (an error, not a cancellation) still waits, so no half-closed consumer is
    left running beside the next one.
    """
    task = asyncio.current_task()
    if task is None or not task.cancelling():
        await broker.stop()
        return
    try:
        await asyncio.wait_for(broker.stop(), STOP_SECONDS)
    except TimeoutError:
        log.warning("consumer stopped, its join abandoned", consumer=name)
