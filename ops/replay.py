"""``motcua replay stats``: rebuild the statistics from offset 0 of ``dossier-events``.

The replay reads every partition of the topic from the start with a plain consumer (no
group, no pydantic: plain JSON decoding of the messages whose ``type`` header stats
handles, nothing at all of the others), computes every row in memory with the rules of
the live consumer (``services/stats/projection.py``), writes them into fresh tables and
swaps those in when it has caught up. It is safe while the stats service keeps
consuming. A large topic is read by several processes, each taking some partitions.

Why every event is then counted exactly once. The live consumer applies a message and
records its positions in one transaction (``motcua/runtime/consumer.py``): per partition the
next offset, per (partition, producer) the highest ``position`` applied; a message whose
position is at or below that watermark is skipped (its transaction rolled back). The
replay's swap is one transaction too, in this order:

1. swap the fresh tables in. This takes the stats tables' locks (the whole database on
   SQLite), so a live transaction that applies an event is either committed before it
   or waits until after it;
2. read the live consumer's stored offsets. If the live consumer has applied a message
   the replay has not read, the fresh tables lack it: roll back, read further (at least
   up to those offsets), and try again. Only the rows of dossiers read meanwhile are
   rewritten, so each try is short and the replay catches up with a moving consumer;
3. otherwise record the replay's own positions for the live consumer: watermarks only
   ever raised (``WHERE position < excluded.position``) and offsets the greater of the
   live ones and the replay's.

After the commit the tables hold exactly the events up to the replay's offsets. A live
consumer that was behind goes on from where it was, but every message the replay read
is now at or below a watermark, so it is skipped; the first message it applies is one
the replay did not read. A live consumer that was ahead made step 2 catch up first. A
consumer (re)started later resumes from the offsets of step 3.

Both count a republished duplicate once: the replay by event id, the live consumer by
its watermark. Messages the live consumer dead-letters instead of applying (oversized,
not JSON, a schema version it cannot read) are skipped, and tracked as it does. The
replay does not validate the rest of each event against its contract: the relay only
ever publishes validated contract events.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from contracts.events import SUPPORTED_SCHEMA_VERSIONS
from motcua.runtime.consumer import MAX_MESSAGE_BYTES
from motcua.runtime.positions import consumer_offsets, raise_positions
from motcua.runtime.settings import Settings
from motcua.runtime.store import Tx, Write
from motcua.runtime.topic_reader import plain_consumer
from services.stats.application import Rebuild, StatsApplication
from services.stats.projection import HANDLED, Projection

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext, SpawnContext

log = structlog.get_logger(__name__)

CONSUMER = "stats"  # the name the live stats consumer records its positions under
# Large fetches: the replay reads a whole topic, so fewer, bigger round trips win.
FETCH_MAX_BYTES = 64 * 1024 * 1024
PARTITION_FETCH_BYTES = 16 * 1024 * 1024
MAX_RECORDS = 50_000
MAX_CATCH_UPS = 100
STALL_SECONDS = 60.0
# Below this many messages a second reading process saves less than it costs (starting,
# sending its rows back): about break-even at 200,000 on two cores.
PARALLEL_FROM = 250_000
MAX_WORKERS = 4
_HANDLED_TYPES = frozenset(kind.encode() for kind in HANDLED)
_VERSIONS = frozenset(SUPPORTED_SCHEMA_VERSIONS)

Progress = Callable[[int, int], None]  # (messages read, messages to read)


class ReplayError(Exception):
    """The replay cannot be done (no such topic, history no longer complete, …)."""


class LiveAhead(Exception):
    """Raised in the swap's transaction to roll it back: the live consumer is ahead."""

    def __init__(self, offsets: dict[int, int]) -> None:
        super().__init__(f"live consumer ahead at {offsets}")
        self.offsets = offsets


@dataclass(frozen=True)
class Replayed:
    """What a replay did: messages read, events applied, dossiers, time, where it ended."""

    events: int
    applied: int
    dossiers: int
    seconds: float
    end_offsets: dict[int, int]
    catch_ups: int = 0
    workers: int = 1
    read_seconds: float = 0.0  # of ``seconds``: reading the topic up to its end
    write_seconds: float = 0.0  # writing the rows, catching up and swapping them in

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass
class Share:
    """What one process computed from its partitions (sent back to the replay's process)."""

    projection: Projection
    positions: dict[int, int]
    watermarks: dict[int, dict[bytes, int]]
    read: int
    skipped: int


@dataclass
class TopicReader:
    """Reads the assigned partitions in order and feeds stats' events to ``feed``.

    Keeps what the live consumer would record after the same messages: per partition the
    next offset, per (partition, producer) the highest position.
    """

    consumer: AIOKafkaConsumer
    feed: Callable[[dict[str, Any]], None]
    positions: dict[int, int]
    watermarks: dict[int, dict[bytes, int]] = field(default_factory=dict)
    read: int = 0
    skipped: int = 0

    async def read_to(
        self, targets: dict[int, int], progress: Callable[[int], None] | None = None
    ) -> None:
        """Read until every partition's next offset reaches its target; fail when nothing
        comes for ``STALL_SECONDS`` (the broker went away: aiokafka would wait forever)."""
        last = time.monotonic()
        while any(self.positions.get(p, 0) < end for p, end in targets.items()):
            batches = await self.consumer.getmany(timeout_ms=1000, max_records=MAX_RECORDS)
            for tp, records in batches.items():
                self.take(tp.partition, records)
            if batches:
                last = time.monotonic()
            elif time.monotonic() - last > STALL_SECONDS:
                raise ReplayError(f"no message from the broker for {STALL_SECONDS:g} s")
            if progress is not None:
                progress(self.read)

    def take(self, partition: int, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Track and feed one partition's records: the hot loop, kept free of calls."""
        marks = self.watermarks.setdefault(partition, {})
        feed, handled = self.feed, _HANDLED_TYPES
        for r in records:
            try:  # the relay's first headers, in its order (trace context follows): the fast path
                (n1, producer), (n2, position), (n3, kind) = r.headers[:3]
                if n1 != "producer" or n2 != "position" or n3 != "type":
                    raise ValueError
            except ValueError:
                producer, position, kind = _headers(r.headers)
            at = int(position) if position.isdigit() else r.offset
            if at > marks.get(producer, -1):
                marks[producer] = at
            if kind is None or kind in handled:
                event = _json_object(r.value)
                if event is None:
                    self.skipped += 1
                else:
                    feed(event)
        self.read += len(records)
        if records:
            self.positions[partition] = records[-1].offset + 1

    def share(self, projection: Projection) -> Share:
        return Share(projection, self.positions, self.watermarks, self.read, self.skipped)

    def absorb(self, share: Share) -> None:
        """Take over the positions of partitions another process read."""
        self.positions.update(share.positions)
        self.watermarks.update(share.watermarks)
        self.read += share.read
        self.skipped += share.skipped


def _headers(headers: Sequence[tuple[str, bytes]]) -> tuple[bytes, bytes, bytes | None]:
    """(producer, position, type) from headers in any order; the first of each counts, as
    for the live consumer (``motcua.runtime.kafka.header``)."""
    found: dict[str, bytes] = {}
    for name, value in headers:
        found.setdefault(name, value)
    return found.get("producer", b""), found.get("position", b""), found.get("type")


_scan = json.JSONDecoder().raw_decode


def _json_object(value: bytes | None) -> dict[str, Any] | None:
    """The message's event as a dict, or None where the live consumer dead-letters it
    instead of applying it: oversized, not a JSON object, a schema version it cannot read.

    About twice as fast as ``json.loads(bytes)``, which first guesses the encoding;
    trailing data is refused as ``loads`` does."""
    if value is None or len(value) > MAX_MESSAGE_BYTES:
        return None
    try:
        text = value.decode()
        event, end = _scan(text)
    except ValueError:  # not UTF-8, or not JSON
        return None
    if end != len(text) and text[end:].strip():
        return None
    if not isinstance(event, dict) or event.get("schema_version", 1) not in _VERSIONS:
        return None
    return event


async def replay_stats(
    settings: Settings,
    stats_app: StatsApplication,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
) -> Replayed:
    """Rebuild the stats tables from the whole topic and swap them in once caught up.

    ``progress`` is called after each fetch with the number of messages read and the
    number the topic held when the replay started. ``workers`` processes share the
    partitions (default: one per CPU, up to ``MAX_WORKERS``, for a large topic).
    """
    started = time.perf_counter()
    rebuild = Rebuild(stats_app.store)
    consumer = _consumer(settings)
    try:
        await consumer.start()
        partitions = await _partitions(consumer, settings.dossier_topic)
        ends = await _ends_from_start(consumer, partitions)
        workers = _workers(workers, ends)
        with _without_gc():
            reader = await _read_all(consumer, settings, ends, rebuild, workers, progress)
            read = time.perf_counter()
            await asyncio.to_thread(rebuild.fill)
            catch_ups = await _swap_when_caught_up(reader, rebuild, stats_app, settings, partitions)
    finally:
        await consumer.stop()
    report, now = rebuild.report(), time.perf_counter()
    replayed = Replayed(
        events=reader.read,
        applied=report.applied,
        dossiers=report.dossiers,
        seconds=now - started,
        end_offsets=dict(reader.positions),
        catch_ups=catch_ups,
        workers=workers,
        read_seconds=read - started,
        write_seconds=now - read,
    )
    log.info("stats replayed", **{k: v for k, v in vars(replayed).items() if k != "end_offsets"})
    return replayed


@contextlib.contextmanager
def _without_gc() -> Iterator[None]:
    """No cyclic garbage collection during a replay: the million objects it makes
    (records, decoded events, rows) hold no cycles, and each collection would only walk
    the growing projection again (it cost 45% more CPU time on a year of events)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    return plain_consumer(
        settings,
        auto_offset_reset="earliest",
        fetch_max_bytes=FETCH_MAX_BYTES,
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
    )


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    if topic not in await consumer.topics():
        raise ReplayError(f"topic {topic} does not exist on the broker")
    numbers = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(numbers)]


async def _ends_from_start(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> dict[int, int]:
    """Each partition's end offset now; refused when the topic lost its first messages
    (a replay of an incomplete history would publish wrong figures).

    Reading stops at the first fetch at or past the end, and fetched batches are read
    whole: a broker that reports the start of its last batch as the end (the embedded
    one does) loses nothing."""
    beginnings = await consumer.beginning_offsets(partitions)
    lost = {tp.partition: n for tp, n in beginnings.items() if n > 0}
    if lost:
        raise ReplayError(f"the topic no longer holds its first messages (first offsets {lost})")
    return {tp.partition: n for tp, n in (await consumer.end_offsets(partitions)).items()}


async def _seek(consumer: AIOKafkaConsumer, topic: str, positions: dict[int, int]) -> None:
    """Read exactly these partitions, each from the given offset."""
    consumer.assign([TopicPartition(topic, p) for p in positions])
    for p, offset in positions.items():
        consumer.seek(TopicPartition(topic, p), offset)


# -- reading, shared among processes ----------------------------------------------------
#
# A dossier's messages are all in one partition (they are keyed by its id, which is what
# keeps them in order for every consumer), so processes that read different partitions
# compute rows of different dossiers: their projections are merged by a dict update.


def _workers(requested: int | None, ends: dict[int, int]) -> int:
    if requested is None:
        large = sum(ends.values()) >= PARALLEL_FROM
        requested = min(os.cpu_count() or 1, MAX_WORKERS) if large else 1
    return max(1, min(requested, len(ends)))


def _split(ends: dict[int, int], workers: int) -> list[dict[int, int]]:
    """Partitions in ``workers`` groups of about equal numbers of messages."""
    groups: list[dict[int, int]] = [{} for _ in range(workers)]
    for p, end in sorted(ends.items(), key=lambda item: -item[1]):
        min(groups, key=lambda g: sum(g.values()))[p] = end
    return [g for g in groups if g] or [{}]


async def _read_all(
    consumer: AIOKafkaConsumer,
    settings: Settings,
    ends: dict[int, int],
    rebuild: Rebuild,
    workers: int,
    progress: Progress | None,
) -> TopicReader:
    """Every partition up to its end: the first group here, the others in child processes."""
    topic, total = settings.dossier_topic, sum(ends.values())
    # The smallest group here: this process also merges the others' shares.
    own, *others = sorted(_split(ends, workers), key=lambda g: sum(g.values()))
    children = [_Child.start(settings, group) for group in others]
    try:
        await _seek(consumer, topic, dict.fromkeys(own, 0))
        reader = TopicReader(consumer, rebuild.feed, dict.fromkeys(own, 0))

        def report(n: int) -> None:
            if progress is not None:
                progress(n + sum(child.read for child in children), total)

        await reader.read_to(own, report)
        for child in children:
            share = await child.result(lambda: report(reader.read))
            rebuild.absorb(share.projection)
            reader.absorb(share)
    finally:
        for child in children:
            child.stop()
    await _seek(consumer, topic, {p: reader.positions.get(p, 0) for p in ends})
    return reader


@dataclass
class _Child:
    """A process reading some partitions; it sends back its ``Share`` when done."""

    process: BaseProcess
    conn: Connection
    counter: Synchronized[int]  # messages read so far, in shared memory

    @classmethod
    def start(cls, settings: Settings, ends: dict[int, int]) -> _Child:
        context = _context()
        counter = context.Value(ctypes.c_longlong, 0)
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_child_main,
            args=(settings, ends, counter, sender),
            name=f"replay-{'-'.join(map(str, ends))}",
            daemon=True,
        )
        process.start()
        sender.close()
        return cls(process, receiver, counter)

    @property
    def read(self) -> int:
        return int(self.counter.value)

    async def result(self, tick: Callable[[], None]) -> Share:
        while not self.conn.poll():
            tick()
            await asyncio.sleep(0.05)
        try:
            outcome = await asyncio.to_thread(self.conn.recv)
        except EOFError:
            raise ReplayError(f"{self.process.name} ended without a result") from None
        if isinstance(outcome, BaseException):
            raise ReplayError(f"{self.process.name}: {outcome}") from outcome
        share: Share = outcome
        return share

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(10)


def _context() -> ForkContext | SpawnContext:
    """Fork where it is the default (Linux) and safe (no other thread, whose locks the
    child would inherit held): nothing is imported again. Otherwise spawn, which costs
    the child a second or so of imports."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _child_main(
    settings: Settings, ends: dict[int, int], counter: Synchronized[int], conn: Connection
) -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # not the parent's asyncio one
    try:
        with _without_gc():
            conn.send(asyncio.run(_read_share(settings, ends, counter)))
    except Exception as error:  # reported to the replay's process, which fails with it
        conn.send(ReplayError(f"reading partitions {sorted(ends)}: {error!r}"))
    finally:
        conn.close()


async def _read_share(
    settings: Settings, ends: dict[int, int], counter: Synchronized[int]
) -> Share:
    projection = Projection()
    consumer = _consumer(settings)
    try:
        await consumer.start()
        await _seek(consumer, settings.dossier_topic, dict.fromkeys(ends, 0))
        reader = TopicReader(consumer, projection.feed, dict.fromkeys(ends, 0))
        await reader.read_to(ends, lambda n: setattr(counter, "value", n))
    finally:
        await consumer.stop()
    return reader.share(projection)


# -- the swap ---------------------------------------------------------------------------


async def _swap_when_caught_up(
    reader: TopicReader,
    rebuild: Rebuild,
    stats_app: StatsApplication,
    settings: Settings,
    partitions: list[TopicPartition],
) -> int:
    """Swap in, unless the live consumer is ahead: then read further and try again."""
    for attempt in range(MAX_CATCH_UPS):
        swap = _swap_and_track(rebuild, reader, settings.dossier_topic)
        try:
            await asyncio.to_thread(stats_app.store.write, swap)
            return attempt
        except LiveAhead as ahead:
            latest = await reader.consumer.end_offsets(partitions)
            targets = {tp.partition: n for tp, n in latest.items()}
            for p, n in ahead.offsets.items():
                targets[p] = max(targets.get(p, 0), n)
            log.info("live stats consumer ahead: reading further", targets=targets)
            await reader.read_to(targets)
    raise ReplayError(f"the live stats consumer kept moving ahead ({MAX_CATCH_UPS} tries)")


def _swap_and_track(rebuild: Rebuild, reader: TopicReader, topic: str) -> Write:
    """The swap's transaction: swap first (locks), then compare positions, then record."""

    def write(tx: Tx) -> None:
        rebuild.swap(tx)
        ahead = {p: n for p, n in live_offsets(tx, topic).items() if n > reader.positions.get(p, 0)}
        if ahead:
            raise LiveAhead(ahead)
        record_positions(tx, topic, reader.positions, reader.watermarks)

    return write


def live_offsets(tx: Tx, topic: str) -> dict[int, int]:
    """The live stats consumer's next offset per partition, as stored with its rows."""
    return {tp.partition: n for tp, n in consumer_offsets(tx, CONSUMER, topic).items()}


def record_positions(
    tx: Tx, topic: str, offsets: dict[int, int], watermarks: dict[int, dict[bytes, int]]
) -> None:
    """Raise the live consumer's positions to the replay's (never lower them)."""
    raise_positions(
        tx,
        CONSUMER,
        {TopicPartition(topic, part): n for part, n in offsets.items()},
        {
            (topic, part, producer.decode(errors="replace")): position
            for part, marks in watermarks.items()
            for producer, position in marks.items()
        },
    )
