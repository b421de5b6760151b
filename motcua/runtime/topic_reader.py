"""Reading a topic from its first message: what the demo, the audit, the chaos checks,
the benchmarks and the tests do to look at a topic.

A plain consumer: no group (nothing committed, no group join to wait for), built from
the cluster's connection options (``motcua.runtime.kafka.client_options``: servers, TLS, SASL),
over every partition of the topic or the ones chosen, from the beginning up to the end
offsets of the moment ``read_to_end`` is called, so that reading ends. Calling it again
reads what came since. Batches are taken whole: a broker that reports a partition's end
inside its last batch (the embedded one does) loses nothing.

The services consume with ``motcua.runtime.consumer``; the stats replay builds its consumer
here and reads with its own loop (``ops.replay``), which is kept free of calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from motcua.runtime.kafka import client_options
from motcua.runtime.settings import Settings

Record: TypeAlias = ConsumerRecord[bytes, bytes]
# Chooses partitions among the topic's (sorted) partition numbers.
Choose = Callable[[list[int]], Iterable[int]]

TIMEOUT_SECONDS = 30.0
POLL_MS = 500


class TopicUnavailable(Exception):
    """The topic cannot be read: the broker is unreachable, the topic does not exist, or
    nothing arrives while messages are still to be read."""


class BrokerUnreachable(TopicUnavailable):
    """No connection to the broker (wrong address, broker down, TLS or SASL refused)."""


class TopicMissing(TopicUnavailable):
    """The broker has no such topic."""


def plain_consumer(settings: Settings, **options: Any) -> AIOKafkaConsumer:
    """A consumer without a group (nothing committed) with the cluster's connection
    options; ``options`` adds to them (fetch sizes, …)."""
    return AIOKafkaConsumer(
        **{**client_options(settings), "group_id": None, "enable_auto_commit": False, **options}
    )


@asynccontextmanager
async def open_topic(
    settings: Settings,
    topic: str,
    partitions: Iterable[int] | Choose | None = None,
    *,
    timeout: float = TIMEOUT_SECONDS,
    wait_for_topic: float = 0.0,
    **options: Any,
) -> AsyncIterator[TopicReader]:
    """A reader of ``topic`` positioned at its beginning: every partition, the numbers
    given, or those ``partitions`` chooses among the topic's. ``timeout`` bounds the
    connection and each wait for messages; ``wait_for_topic`` s are given to a topic
    that does not exist yet (``TopicMissing`` after them)."""
    consumer = await _started(settings, timeout, options)
    try:
        numbers = consumer.partitions_for_topic(topic)
        deadline = time.monotonic() + wait_for_topic
        while not numbers:
            if topic in await consumer.topics():
                # The consumer's own metadata dates from its start: a new one names the
                # partitions of a topic created since.
                await consumer.stop()
                consumer = await _started(settings, timeout, options)
                numbers = consumer.partitions_for_topic(topic)
                if numbers:
                    break
            if time.monotonic() >= deadline:
                raise TopicMissing(
                    f"topic {topic} does not exist on the broker at {settings.bootstrap_servers}"
                )
            await asyncio.sleep(0.1)
        chosen = sorted(numbers)
        if callable(partitions):
            chosen = sorted(partitions(chosen))
        elif partitions is not None:
            chosen = sorted(partitions)
        reader = TopicReader(consumer, [TopicPartition(topic, p) for p in chosen], timeout)
        await reader.seek_to_beginning()
        yield reader
    finally:
        await consumer.stop()


async def read_topic(
    settings: Settings,
    topic: str,
    partitions: Iterable[int] | Choose | None = None,
    *,
    timeout: float = TIMEOUT_SECONDS,
    missing_ok: bool = False,
    **options: Any,
) -> list[Record]:
    """Every record of ``topic`` (or of the partitions chosen) from the beginning up to
    the end offsets of now; none for a missing topic when ``missing_ok``."""
    try:
        async with open_topic(settings, topic, partitions, timeout=timeout, **options) as reader:
            return await reader.read_to_end()
    except TopicMissing:
        if missing_ok:
            return []
        raise


class TopicReader:
    """Assigned partitions read in order; ``positions`` holds each one's next offset."""

    def __init__(
        self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition], timeout: float
    ) -> None:
        self.consumer = consumer
        self.partitions = partitions
        self.timeout = timeout
        self.positions: dict[TopicPartition, int] = {}

    async def seek_to_beginning(self) -> None:
        self.consumer.assign(self.partitions)
        beginnings = await self._ask(self.consumer.beginning_offsets(self.partitions))
        for tp, offset in beginnings.items():
            self.consumer.seek(tp, offset)
            self.positions[tp] = offset

    async def remaining(self) -> int:
        """Messages between the positions and the partitions' end offsets now."""
        ends = await self._ask(self.consumer.end_offsets(self.partitions))
        return sum(max(0, end - self.positions[tp]) for tp, end in ends.items())

    async def read_to_end(self, max_records: int | None = None) -> list[Record]:
        """The records from the positions up to the end offsets of now."""
        return [r async for batch in self.batches(max_records) for r in batch]

    async def batches(self, max_records: int | None = None) -> AsyncIterator[list[Record]]:
        """Each partition's fetched records, until every partition is at the end offsets
        of now; ``TopicUnavailable`` when nothing arrives for ``timeout`` s before."""
        ends = await self._ask(self.consumer.end_offsets(self.partitions))
        last = time.monotonic()
        while behind := [tp for tp in self.partitions if self.positions[tp] < ends[tp]]:
            fetched = await self.consumer.getmany(
                *behind, timeout_ms=POLL_MS, max_records=max_records
            )
            for tp, records in fetched.items():
                if records:
                    self.positions[tp] = records[-1].offset + 1
                    yield records
            if any(fetched.values()):
                last = time.monotonic()
                continue
            for tp in behind:  # offsets without a record (transaction markers) count too
                self.positions[tp] = max(self.positions[tp], await self.consumer.position(tp))
            if time.monotonic() - last > self.timeout:
                left = {tp.partition: ends[tp] - self.positions[tp] for tp in behind}
                raise TopicUnavailable(
                    f"nothing from {self.partitions[0].topic} for {self.timeout:g} s "
                    f"with messages left to read {left}"
                )

    async def _ask(self, request: Any) -> dict[TopicPartition, int]:
        try:
            answer: dict[TopicPartition, int] = await request
        except KafkaError as error:
            raise BrokerUnreachable(f"the broker did not answer: {error}") from error
        return answer


async def _started(settings: Settings, timeout: float, options: dict[str, Any]) -> AIOKafkaConsumer:
    consumer = plain_consumer(settings, **options)
    try:
        await asyncio.wait_for(consumer.start(), timeout)
    except (KafkaError, OSError) as error:  # refused, TLS or SASL failed, no answer in time
        await consumer.stop()
        raise BrokerUnreachable(
            f"cannot reach the Kafka broker at {settings.bootstrap_servers} "
            f"({settings.kafka_security_protocol}): {str(error) or f'no answer in {timeout:g} s'}"
        ) from error
    return consumer
