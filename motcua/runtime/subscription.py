"""The tracked consumer as a FastStream batch subscriber, with the edges FastStream leaves.

``TrackedConsumer`` (``consumer.py``) keeps the unit of work; this module only hosts it
on a ``KafkaBroker``:

* **a batch subscriber with manual acknowledgement.** Nothing is acknowledged by
  FastStream: resuming uses the store's positions, and the handler commits Kafka's
  offsets after each applied batch for lag dashboards only.
* **raw records.** Our parser and decoder hand the handler aiokafka's
  ``ConsumerRecord``s as fetched. FastStream's own parser decodes every header as UTF-8
  (one foreign header fails the batch) and every body as JSON; ours lets the consumer
  skip records by their ``type`` header without decoding them.
* **the store's positions on every assignment**: ``_ResumeFromStore`` is passed as the
  subscriber's listener and reaches aiokafka's consumer through the subscriber
  (FastStream's listener gets none).
* **a failed batch is rewound, every partition of it.** With manual acks FastStream
  logs an exception of the handler or of the parser and goes on with the next fetch:
  the batch would be skipped (and applied only after a restart, or never once later
  batches moved the positions on). ``RewindOnFailure`` waits a bounded, growing backoff
  and seeks each partition of the batch back to its first unapplied offset (read from
  the store). ``NACK_ON_ERROR`` would redeliver at once, with no backoff, and does not
  cover a parser failure. ``tests/integration/test_faststream_edges.py`` shows both.
* **described for the AsyncAPI document** (``devtools/asyncapi.py``): a title, a
  description, and as its messages the contract events its handlers apply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import GenericAlias, TracebackType
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import ConsumerRecord, TopicPartition
from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaAckableMessage
from faststream.kafka.schemas import Topic
from faststream.kafka.subscriber.usecase import BatchSubscriber

from contracts.envelope import one_of
from motcua.core import metrics

if TYPE_CHECKING:
    from faststream.message import StreamMessage

    from motcua.runtime.consumer import TrackedConsumer

log = structlog.get_logger(__name__)

Records = tuple[ConsumerRecord[bytes, bytes], ...]
# After an empty fetch FastStream sleeps the fetch's timeout again: kept short, or every
# hop of the pipeline would wait up to twice that for the next event.
FETCH_TIMEOUT_MS = 100
MAX_BACKOFF_SECONDS = 10.0


async def _parse(records: Records) -> StreamMessage[Records]:
    """The batch as it was fetched: no header or body decoded here."""
    return KafkaAckableMessage(
        raw_message=records,
        body=records,
        message_id=f"{records[0].topic}/{records[0].partition}/{records[0].offset}",
        consumer=_NO_CONSUMER,
    )


async def _decode(message: StreamMessage[Records]) -> Records:
    return message.raw_message


class _NoConsumer:
    """Acks are manual and never called: the message needs no consumer to commit with."""

    async def commit(self) -> None:
        return None

    def seek(self, partition: TopicPartition, offset: int) -> None:
        return None


_NO_CONSUMER = _NoConsumer()


class Rewind:
    """A broker middleware (a factory FastStream calls once per batch) that rewinds the
    partitions of a failed batch of ``owner``'s subscriber."""

    def __init__(self, owner: TrackedConsumer) -> None:
        self.owner = owner
        self.failures = 0  # in a row: the backoff grows with them

    def __call__(self, msg: Any, /, *, context: Any) -> RewindOnFailure:
        return RewindOnFailure(msg, context=context, rewind=self)

    async def failed(self, records: Records, error: BaseException) -> None:
        """Wait, then seek every partition of ``records`` to its first unapplied offset."""
        self.failures += 1
        delay = min(0.2 * 2 ** (self.failures - 1), MAX_BACKOFF_SECONDS)
        log.error(
            "batch failed; rewinding its partitions",
            consumer=self.owner.name,
            records=len(records),
            error=repr(error),
            retry_in=delay,
        )
        metrics.BATCHES_REWOUND.labels(self.owner.name).inc()
        await asyncio.sleep(delay)
        offsets = await self.owner.first_unapplied(records)
        consumer = self.owner.consumer
        if consumer is None:  # stopped meanwhile: the next start resumes from the store
            return
        assigned = consumer.assignment()
        for tp, offset in offsets.items():
            if tp in assigned:  # a revoked partition's new owner resumes from the store
                consumer.seek(tp, offset)


class RewindOnFailure(BaseMiddleware):
    """Around one batch: on an exception, the batch is rewound; on success the backoff
    starts again from its shortest."""

    __slots__ = ("rewind",)

    def __init__(self, msg: Any, /, *, context: Any, rewind: Rewind) -> None:
        super().__init__(msg, context=context)
        self.rewind = rewind

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        if not isinstance(self.msg, tuple) or not self.msg:
            return False  # not a batch of ours (a publish)
        if exc_val is None:
            self.rewind.failures = 0
        elif isinstance(exc_val, Exception):  # not a cancellation: that stops the broker
            await self.rewind.failed(self.msg, exc_val)
        return False  # FastStream logs it and goes on; the rewind made that safe


def _described(owner: TrackedConsumer) -> Callable[[Records], Awaitable[None]]:
    """``owner.on_batch``, annotated with the events its handlers apply.

    FastStream 0.7.8 describes a subscriber's messages only by its handler's parameters
    (``subscriber()`` takes no ``schema=``, unlike ``publisher()``); for ``on_batch``'s
    raw records it would write aiokafka's ``ConsumerRecord``. The annotation is read for
    the document alone: the broker applies no types (``apply_types=False``), so the
    handler still gets the records as fetched.
    """

    async def on_batch(records: Records) -> None:
        await owner.on_batch(records)

    if owner.handlers.kinds:  # a consumer that handles nothing (bench.consumer) keeps its own
        on_batch.__annotations__["records"] = GenericAlias(list, one_of(owner.handlers.kinds))
    return on_batch


def subscribe(owner: TrackedConsumer, broker: KafkaBroker, group_id: str) -> BatchSubscriber:
    """Declare ``owner``'s batch subscriber on ``broker``; its handler applies a batch."""
    subscriber = broker.subscriber(
        *(Topic(t, declare=False) for t in owner.topics),
        batch=True,
        group_id=group_id,
        auto_offset_reset="earliest",
        max_records=owner.max_records,
        batch_timeout_ms=FETCH_TIMEOUT_MS,
        listener=owner.listener(),
        ack_policy=AckPolicy.MANUAL,
        parser=_parse,
        decoder=_decode,
        title=f"{owner.name}-consumer",
        description=f"{owner.name} applies each event of the types it handles once, in one "
        "unit of work per batch; it reads every record and skips the other types by their "
        "`type` header, undecoded",
    )
    subscriber(_described(owner))
    return subscriber
