"""FastStream's sharp edges, on the real broker: the tracked consumer is a FastStream
batch subscriber (``motcua/runtime/subscription.py``), and none of these may lose a record.

* With manual acks FastStream logs an exception of the handler and fetches on: the
  failed batch would be skipped. It is rewound and applied (or dead-lettered) instead.
* A failed batch spanning several partitions is rewound on every one of them.
* Positions come from the store on every assignment, across a restart and a rebalance
  between two members, never from Kafka's committed offsets.
* The DLQ, which stays on aiokafka, keeps a poison record's headers byte for byte.
* A consumer stopped while its join waits for a dead member (after a kill -9) stops at
  once; aiokafka alone would wait out the dead member's session.

(``TestKafkaBroker`` gives every message offset 0 and never calls the listener: none
of this could be tested on it.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaTimeoutError

from contracts.envelope import Envelope
from contracts.events import encode
from motcua.runtime.consumer import TrackedConsumer
from motcua.runtime.handlers import Handlers
from motcua.runtime.kafka import ensure_topics, start_producer
from motcua.runtime.settings import Settings
from motcua.runtime.topic_reader import read_topic as read_records
from motcua.runtime.unit_of_work import UnitOfWork
from tests.support.ledger import Ledger, consume_until, tracked
from tests.support.processes import Broker, Postgres
from tests.support.samples import LAND, LAND_FORM, received
from tests.support.topics import read_topic

pytestmark = pytest.mark.integration

_positions = itertools.count(1)


def settings_for(broker: Broker, topic: str) -> Settings:
    return Settings(kafka_bootstrap_servers=broker.bootstrap, dossier_topic=topic)


async def publish(settings: Settings, partitions: Iterable[int], count: int) -> list[Envelope]:
    """``count`` events on each of ``partitions``, with the relay's headers (positions
    growing within each partition, as one store's relay publishes them)."""
    await ensure_topics(settings, [settings.dossier_topic])
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    events: list[Envelope] = []
    try:
        for _ in range(count):
            for partition in partitions:
                event = received(LAND, LAND_FORM)
                headers = [
                    ("producer", b"intake"),
                    ("position", str(next(_positions)).encode()),
                    ("type", type(event).__name__.encode()),
                ]
                await producer.send_and_wait(
                    settings.dossier_topic,
                    encode(event),
                    key=str(event.dossier_id).encode(),
                    partition=partition,
                    headers=headers,
                )
                events.append(event)
    finally:
        await producer.stop()
    return events


def next_offsets(ledger: Ledger, name: str = "ledger") -> dict[int, int]:
    rows = ledger.store.read(
        "SELECT part, next_offset FROM {consumer_offsets} WHERE consumer = ?", (name,)
    )
    return {int(r["part"]): int(r["next_offset"]) for r in rows}


def applied_ids(ledger: Ledger) -> list[str]:
    return [str(r["event_id"]) for r in ledger.rows()]


class FailsFor(Ledger):
    """A ledger whose handler raises on one event, always (a handler bug)."""

    def __init__(self, var_dir: Path, poison: uuid.UUID) -> None:
        super().__init__(var_dir)
        self.poison = poison

    def handlers(self) -> Handlers:
        def record_or_fail(event: Envelope, uow: UnitOfWork) -> None:
            if event.event_id == self.poison:
                raise RuntimeError("a handler bug")
            self.record(event, uow)

        return Handlers({type(received(LAND, LAND_FORM)): record_or_fail})


class FirstDeadLetterRefused(AIOKafkaProducer):  # type: ignore[misc]
    """The real producer, whose first send to the DLQ times out (a broker hiccup): the
    error escapes the per-record fallback and reaches FastStream's handler."""

    refused = 0

    async def send_and_wait(self, *args: Any, **kwargs: Any) -> Any:
        if not self.refused:
            self.refused += 1
            raise KafkaTimeoutError("the dead-letter topic did not answer")
        return await super().send_and_wait(*args, **kwargs)


@pytest.mark.store_semantics
def test_a_batch_whose_handler_raises_is_rewound_not_skipped(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    settings = settings_for(broker, topic)
    events = asyncio.run(publish(settings, [0], 20))
    poison = events[10]
    ledger = FailsFor(tmp_path / "ledger", poison.event_id)

    async def run() -> TrackedConsumer:
        dlq = FirstDeadLetterRefused(bootstrap_servers=broker.bootstrap, acks="all")
        await dlq.start()
        return await consume_until(
            ledger,
            settings,
            lambda c: c.applied >= 19 and c.dead_lettered >= 1,
            dlq_producer=dlq,
            timeout=25,
        )

    consumer = asyncio.run(run())

    good = [str(e.event_id) for e in events if e is not poison]
    assert applied_ids(ledger) == good  # all of them, once, in order
    dead = read_topic(  # the DLQ topic is every ledger test's: this one's are from its topic
        broker.bootstrap,
        settings.dlq_topic("ledger"),
        lambda rs: any(r.headers["dlq-source"].startswith(f"{topic}/") for r in rs),
    )
    sources = [r.headers["dlq-source"] for r in dead]
    assert [s for s in sources if s.startswith(f"{topic}/")] == [f"{topic}/0/10"]
    assert next_offsets(ledger) == {0: 20}
    assert (consumer.applied, consumer.dead_lettered) == (19, 1)


class FailsOnceAcrossPartitions(TrackedConsumer):
    """Its first batch spanning several partitions fails before anything is applied."""

    failed: set[int] | None = None

    async def apply_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        partitions = {r.partition for r in records}
        if self.failed is None and len(partitions) > 1:
            self.failed = partitions
            raise RuntimeError("the store went away mid-batch")
        await super().apply_batch(records)


def test_a_failed_batch_is_rewound_on_every_partition_it_spans(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    settings = settings_for(broker, topic)
    events = asyncio.run(publish(settings, [0, 1, 2], 10))
    ledger = Ledger(tmp_path / "ledger")

    consumer = asyncio.run(
        consume_until(
            ledger, settings, lambda c: c.applied >= 30, kind=FailsOnceAcrossPartitions, timeout=20
        )
    )

    assert isinstance(consumer, FailsOnceAcrossPartitions)
    assert consumer.failed is not None
    assert len(consumer.failed) > 1
    assert sorted(applied_ids(ledger)) == sorted(str(e.event_id) for e in events)
    assert next_offsets(ledger) == {0: 10, 1: 10, 2: 10}


async def commit_past_the_end(settings: Settings, group_id: str) -> dict[TopicPartition, int]:
    """Kafka's committed offsets of ``group_id`` at the end of every partition, committed
    by a member of the group: a consumer that resumed from them would read nothing more."""
    consumer = AIOKafkaConsumer(
        settings.dossier_topic,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not consumer.assignment() and loop.time() < deadline:
            await consumer.getmany(timeout_ms=200, max_records=1)
        tps = sorted(consumer.assignment())
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        await consumer.commit(ends)
        return {tp: await consumer.committed(tp) for tp in tps}
    finally:
        await consumer.stop()


@pytest.mark.store_semantics
def test_a_restart_resumes_from_the_store_not_from_kafkas_offsets(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    settings = settings_for(broker, topic)
    group = f"{topic}-restart"
    ledger = Ledger(tmp_path / "ledger")
    first = asyncio.run(publish(settings, [0, 1], 3))
    asyncio.run(consume_until(ledger, settings, lambda c: c.applied >= 6, group_id=group))
    later = asyncio.run(publish(settings, [0, 1], 4))
    committed = asyncio.run(commit_past_the_end(settings, group))
    assert sum(committed.values()) == 14  # Kafka says: all read

    again = asyncio.run(
        consume_until(ledger, settings, lambda c: c.applied >= 8, group_id=group, timeout=20)
    )

    assert sorted(applied_ids(ledger)) == sorted(str(e.event_id) for e in first + later)
    assert again.applied == 8


async def run_members(
    ledgers: Sequence[Ledger], settings: Settings, group: str, produce: Any
) -> list[TrackedConsumer]:
    """Two members of one group over one store: both run; ``produce`` is awaited once they
    share the partitions; then the second stops and the first takes its partitions over."""
    await ensure_topics(settings, [settings.dossier_topic, settings.dlq_topic("ledger")])
    dlq = await start_producer(settings)
    members = [tracked(ledger, settings, dlq, group_id=group) for ledger in ledgers]
    tasks = [asyncio.create_task(m.run()) for m in members]
    loop = asyncio.get_running_loop()

    async def until(condition: Any, timeout: float = 30.0) -> None:
        deadline = loop.time() + timeout
        while not condition() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        assert condition(), "the members did not get there in time"

    def assigned(member: TrackedConsumer) -> set[TopicPartition]:
        consumer = member.consumer
        return set(consumer.assignment()) if consumer is not None else set()

    try:
        await until(lambda: all(assigned(m) for m in members))
        assert not assigned(members[0]) & assigned(members[1])  # shared, not doubled
        await produce(0)
        tasks[1].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[1]
        await until(lambda: len(assigned(members[0])) == settings.topic_partitions)
        await produce(1)
        await asyncio.sleep(1.0)  # time for a wrong extra delivery to show up
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await dlq.stop()
    return members


@pytest.mark.own_stores  # on PostgreSQL: two instances of a service share its database
def test_two_members_resume_from_the_store_across_rebalances(
    broker: Broker, topic: str, tmp_path: Path, postgres: Postgres
) -> None:
    settings = settings_for(broker, topic)
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    ledgers = [Ledger(tmp_path / f"member{n}", url) for n in range(2)]
    group = f"{topic}-members"
    everything = asyncio.run(publish(settings, range(6), 2))
    asyncio.run(consume_until(ledgers[0], settings, lambda c: c.applied >= 12, group_id=group))
    everything += asyncio.run(publish(settings, range(6), 3))
    asyncio.run(commit_past_the_end(settings, group))  # Kafka says: all read

    async def produce(round_: int) -> None:
        everything.extend(await publish(settings, range(6), 2))
        wanted = 30 + 12 * (round_ + 1)
        deadline = asyncio.get_running_loop().time() + 30
        while len(ledgers[0].rows()) < wanted:
            assert asyncio.get_running_loop().time() < deadline, len(ledgers[0].rows())
            await asyncio.sleep(0.2)

    members = asyncio.run(run_members(ledgers, settings, group, produce))

    ids = applied_ids(ledgers[0])
    assert len(ids) == len(set(ids))  # none twice
    assert sorted(ids) == sorted(str(e.event_id) for e in everything)  # none skipped
    assert members[0].applied > 0  # both did some of it
    assert members[1].applied > 0
    assert next_offsets(ledgers[0]) == dict.fromkeys(range(6), 9)


def test_a_dead_lettered_record_keeps_its_headers_byte_for_byte(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    """Why the DLQ producer stays on aiokafka: a poison record's headers are whatever it
    carried (here not UTF-8, and a name twice). FastStream's ``publish`` takes a
    ``dict[str, str]``: it could keep neither."""
    settings = settings_for(broker, topic)
    original = [
        ("producer", b"intake"),
        ("position", b"1"),
        ("type", b"DossierReceived"),
        ("x-raw", b"\xff\xfe"),
        ("x-raw", b"again"),
    ]

    async def produce() -> None:
        await ensure_topics(settings, [topic])
        producer = await start_producer(settings)
        try:
            await producer.send_and_wait(topic, b"\xff not json", partition=0, headers=original)
        finally:
            await producer.stop()

    asyncio.run(produce())
    ledger = Ledger(tmp_path / "ledger")
    asyncio.run(consume_until(ledger, settings, lambda c: c.dead_lettered >= 1, settle=0.2))

    source = f"{topic}/0/0".encode()  # the DLQ topic is every ledger test's
    dead = [
        r
        for r in asyncio.run(read_records(settings, settings.dlq_topic("ledger")))
        if ("dlq-source", source) in r.headers
    ]
    assert [(k, bytes(v)) for k, v in dead[0].headers[: len(original)]] == original
    assert dead[0].value == b"\xff not json"


DEAD_MEMBER_SESSION_MS = 30_000


def test_a_stopping_consumer_does_not_wait_for_a_join_held_up_by_a_dead_member(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    """After a kill -9 the dead member stays in the group until its session times out,
    and a new member's join waits for it. aiokafka's ``stop`` waits for a pending join to
    finish: a service stopped in that window (a test's teardown, a deploy after a crash)
    would hang for the dead member's whole session. It stops at once instead; nothing is
    lost, since positions live in the store and the join is simply abandoned."""
    settings = settings_for(broker, topic)
    group = f"{topic}-dead-member"
    asyncio.run(ensure_topics(settings, [settings.dossier_topic, settings.dlq_topic("ledger")]))
    dead = join_then_die(settings, group, DEAD_MEMBER_SESSION_MS)
    ledger = Ledger(tmp_path / "ledger")

    async def start_then_stop() -> tuple[float, bool]:
        dlq = await start_producer(settings)
        member = tracked(ledger, settings, dlq, group_id=group)
        task = asyncio.create_task(member.run())
        await asyncio.sleep(2.0)  # its JoinGroup now waits for the dead member
        joined = bool(member.consumer is not None and member.consumer.assignment())
        loop = asyncio.get_running_loop()
        started = loop.time()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        stopped = loop.time() - started
        await dlq.stop()
        return stopped, joined

    try:
        stopped, joined = asyncio.run(start_then_stop())
    finally:
        dead.kill()
        dead.wait(10)

    assert not joined, "the join did not wait for the dead member: nothing was tested"
    assert stopped < DEAD_MEMBER_SESSION_MS / 1000 / 3, f"the stop took {stopped:.1f} s"


def join_then_die(settings: Settings, group: str, session_ms: int) -> subprocess.Popen[bytes]:
    """A process whose consumer joins ``group`` and is then killed with SIGKILL: it stays
    a member, as far as the broker knows, until ``session_ms`` after its last heartbeat."""
    script = f"""
import asyncio, sys
from aiokafka import AIOKafkaConsumer
async def main():
    c = AIOKafkaConsumer(
        {settings.dossier_topic!r}, bootstrap_servers={settings.bootstrap_servers!r},
        group_id={group!r}, session_timeout_ms={session_ms},
        max_poll_interval_ms={2 * session_ms}, heartbeat_interval_ms=1000)
    await c.start()
    while not c.assignment():
        await asyncio.sleep(0.05)
    print("joined", flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"joined"
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    return process
