"""The stats replay without a broker: reading, positions, the swap, catching up, merging.

The broker end is in ``tests/integration/test_replay_stats.py``; here the records are
built as aiokafka hands them over, and the live consumer is played by the same
tracked consumer and handlers the stats service runs.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeAlias, cast

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from bench.history import year_of_messages
from contracts.envelope import Envelope
from contracts.events import decode, encode
from motcua.runtime.consumer import MAX_MESSAGE_BYTES, TrackedConsumer
from motcua.runtime.positions import position_of, producer_of
from motcua.runtime.settings import Settings
from motcua.runtime.store import Tx, store_env
from ops import replay
from ops.replay import LiveAhead, TopicReader, record_positions
from services.stats.application import Rebuild, StatsApplication
from services.stats.projection import Projection
from tests.support.ledger import offline_consumer
from tests.support.samples import tables
from tests.unit.test_stats import Story, history, messages, stats_in

TOPIC = "dossier-events"
Record: TypeAlias = ConsumerRecord[bytes, bytes]


def record(
    offset: int,
    value: bytes,
    headers: list[tuple[str, bytes]],
    partition: int = 0,
    key: bytes | None = None,
) -> Record:
    return ConsumerRecord(
        TOPIC, partition, offset, 0, 0, key, value, None, 0, len(value), tuple(headers)
    )


def records(events: list[Envelope], start: int = 0, partition: int = 0) -> list[Record]:
    """The events as the relay publishes them: headers producer, position, type."""
    out = []
    for offset, event in enumerate(events, start):
        headers = [
            ("producer", event.producer.encode()),
            ("position", str(offset + 1).encode()),
            ("type", type(event).__name__.encode()),
        ]
        out.append(record(offset, encode(event), headers, partition))
    return out


def reader_of(rebuild: Rebuild | Projection, consumer: Any = None) -> TopicReader:
    feed = rebuild.feed
    return TopicReader(cast(AIOKafkaConsumer, consumer), feed, {0: 0})


_live: weakref.WeakKeyDictionary[StatsApplication, TrackedConsumer] = weakref.WeakKeyDictionary()


def apply_live(app: StatsApplication, r: Record) -> bool:
    """What ``TrackedConsumer`` does with one message; False when it was skipped."""
    if app not in _live:
        _live[app] = offline_consumer(app, app.store, app.handlers(), name="stats")
    return _live[app].apply_in_store([r]).skipped == 0


def stats_on(database_url: str | None, directory: Path) -> StatsApplication:
    """A stats store on SQLite (under ``directory``) or on the test's PostgreSQL database."""
    directory.mkdir(parents=True, exist_ok=True)
    return StatsApplication(store_env(database_url, str(directory), "stats"))


def rows(app: StatsApplication) -> list[list[tuple[Any, ...]]]:
    """Both tables' rows, sorted here: the databases sort text differently."""
    return [sorted(tuple(r.values()) for r in table) for table in tables(app)]


def offsets(app: StatsApplication) -> dict[int, int]:
    rows = app.store.read("SELECT part, next_offset FROM {consumer_offsets}")
    return {int(r["part"]): int(r["next_offset"]) for r in rows}


def watermarks(app: StatsApplication) -> dict[str, int]:
    rows = app.store.read("SELECT producer, position FROM {consumer_watermarks}")
    return {r["producer"]: int(r["position"]) for r in rows}


# -- the synthetic year of the benchmark ------------------------------------------------


def test_the_synthetic_year_is_made_of_contract_events() -> None:
    sent = list(year_of_messages(4000, seed=3))
    positions: dict[str, int] = {}
    first: dict[bytes, str] = {}
    for m in sent:
        event = decode(m.value)
        assert event is not None
        headers = {k: v.decode() for k, v in m.headers}
        assert headers["type"] == type(event).__name__ == m.type
        assert headers["producer"] == event.producer
        assert m.key == str(event.dossier_id).encode()
        assert int(headers["position"]) > positions.get(event.producer, 0)
        positions[event.producer] = int(headers["position"])
        first.setdefault(m.key, m.type)
    assert len(sent) == 4000
    kinds = Counter(m.type for m in sent)
    assert {"DossierReceived", "StepStarted", "StepCompleted", "NoticeDelivered"} <= set(kinds)
    assert {"PaymentSucceeded", "ResultIssued", "DossierOverdue", "DossierRated"} <= set(kinds)
    assert set(first.values()) <= {"DossierSubmitted", "DossierReceived"}
    assert 400 < sum(len(m.value) for m in sent) / len(sent) < 1000  # bytes, like the pipeline


# -- reading ----------------------------------------------------------------------------


def test_the_reader_keeps_the_positions_the_live_consumer_would() -> None:
    story = Story()
    received, step = story.received(), story.step_started("A")
    newer = json.loads(encode(story.step_started("A", 1))) | {"schema_version": 2}
    huge = story.step_completed("A").model_copy(update={"notes": "x" * MAX_MESSAGE_BYTES})
    completed = [("producer", b"workflow"), ("type", b"StepCompleted")]
    odd = [
        record(0, encode(received), [("position", b"7"), ("producer", b"intake")]),  # no type
        record(1, encode(step), [("producer", b"workflow"), ("position", b"3")]),
        record(2, b"{not json", completed),
        record(3, b"garbage", [("producer", b"notify"), ("position", b"9"), ("type", b"X")]),
        record(4, encode(step), [("producer", b"workflow"), ("position", b"2")]),  # again
        record(5, json.dumps(newer).encode(), [("type", b"StepStarted")]),
        record(6, encode(huge), completed),
    ]
    projection = Projection()
    reader = reader_of(projection)
    reader.take(0, odd)

    expected: dict[str, int] = {}
    for r in odd:  # the live consumer's own reading of the same headers
        producer = producer_of(r)
        expected[producer] = max(expected.get(producer, -1), position_of(r))
    assert {k.decode(): v for k, v in reader.watermarks[0].items()} == expected
    # offsets 2 and 6 had no position, 5 not even a producer
    assert expected == {"intake": 7, "workflow": 6, "notify": 9, "": 5}
    assert reader.positions == {0: 7}
    # not JSON, a newer schema, oversized: dead-lettered by the live consumer, not applied
    assert (reader.read, reader.skipped) == (7, 3)
    assert (projection.events, projection.applied) == (3, 2)  # the repeat counted once
    assert projection.agencies[(str(story.dossier_id), "A")].steps == 1


def test_reading_gives_the_rows_of_a_rebuild(tmp_path: Path) -> None:
    events = history(seed=21, dossiers=40)
    read = stats_in(tmp_path / "read")
    rebuild = Rebuild(read.store)
    reader_of(rebuild).take(0, records(events))
    rebuild.fill()
    read.store.write(rebuild.swap)
    reference = stats_in(tmp_path / "ref")
    reference.rebuild(messages(events))
    assert tables(read) == tables(reference)


# -- the swap and the live consumer -----------------------------------------------------


def test_after_the_swap_a_live_consumer_behind_skips_what_the_replay_read(
    database_url: str | None, tmp_path: Path
) -> None:
    events = history(seed=5, dossiers=30)
    sent = records(events)
    n, behind = len(sent) - 20, len(sent) - 60
    live = stats_on(database_url, tmp_path / "live")
    assert all(apply_live(live, r) for r in sent[:behind])

    rebuild = Rebuild(live.store)
    reader = reader_of(rebuild)
    reader.take(0, sent[:n])
    rebuild.fill()
    live.store.write(replay._swap_and_track(rebuild, reader, TOPIC))
    assert offsets(live) == {0: n}

    # the live consumer goes on from where it was: what the replay read is skipped ...
    assert not any(apply_live(live, r) for r in sent[behind:n])
    # ... and what it did not read is applied, once
    assert all(apply_live(live, r) for r in sent[n:])
    assert not any(apply_live(live, r) for r in sent[n:])
    reference = stats_in(tmp_path / "ref")
    reference.rebuild(messages(events))
    assert rows(live) == rows(reference)
    assert offsets(live) == {0: len(sent)}


def test_the_swap_is_rolled_back_while_the_live_consumer_is_ahead(
    database_url: str | None, tmp_path: Path
) -> None:
    events = history(seed=8, dossiers=10)
    sent = records(events)
    live = stats_on(database_url, tmp_path)
    assert all(apply_live(live, r) for r in sent)
    before, marks = tables(live), watermarks(live)

    rebuild = Rebuild(live.store)
    reader = reader_of(rebuild)
    reader.take(0, sent[:10])
    rebuild.fill()
    with pytest.raises(LiveAhead) as ahead:
        live.store.write(replay._swap_and_track(rebuild, reader, TOPIC))
    assert ahead.value.offsets == {0: len(sent)}
    assert tables(live) == before  # the live figures still serve, unchanged
    assert (offsets(live), watermarks(live)) == ({0: len(sent)}, marks)


def test_positions_are_only_ever_raised(tmp_path: Path) -> None:
    app = stats_in(tmp_path)

    def live_positions(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {consumer_offsets} VALUES ('stats', ?, 0, 50), ('stats', ?, 1, 5)",
            (TOPIC, TOPIC),
        )
        tx.execute(
            "INSERT INTO {consumer_watermarks} VALUES "
            "('stats', ?, 0, 'intake', 40), ('stats', ?, 0, 'workflow', 4), "
            "('search', ?, 0, 'intake', 1)",
            (TOPIC, TOPIC, TOPIC),
        )

    app.store.write(live_positions)
    app.store.write(
        lambda tx: record_positions(
            tx, TOPIC, {0: 30, 1: 9}, {0: {b"intake": 30, b"workflow": 8, b"payment": 2}}
        )
    )
    assert offsets(app) == {0: 50, 1: 9}
    rows = app.store.read(
        "SELECT consumer, producer, position FROM {consumer_watermarks} ORDER BY 1, 2"
    )
    assert [tuple(r.values()) for r in rows] == [
        ("search", "intake", 1),  # another consumer's positions are not touched
        ("stats", "intake", 40),
        ("stats", "payment", 2),
        ("stats", "workflow", 8),
    ]


class FakeConsumer:
    """Serves one partition's records from a list: what the catch-up loop asks of Kafka."""

    def __init__(self, served: list[Record], position: int) -> None:
        self.served, self.position = served, position

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        batch = self.served[self.position : self.position + 7]
        self.position += len(batch)
        return {TopicPartition(TOPIC, 0): batch} if batch else {}

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {TopicPartition(TOPIC, 0): len(self.served)}


def test_a_replay_behind_the_live_consumer_reads_further_then_swaps(
    database_url: str | None, tmp_path: Path
) -> None:
    events = history(seed=13, dossiers=20)
    sent = records(events)
    start = len(sent) // 2
    live = stats_on(database_url, tmp_path / "live")
    assert all(apply_live(live, r) for r in sent)  # the live consumer is at the end

    rebuild = Rebuild(live.store)
    reader = reader_of(rebuild, FakeConsumer(sent, start))
    reader.take(0, sent[:start])  # the topic's end when the replay started
    rebuild.fill()
    settings = Settings(dossier_topic=TOPIC)
    partitions = [TopicPartition(TOPIC, 0)]
    catch_ups = asyncio.run(
        replay._swap_when_caught_up(reader, rebuild, live, settings, partitions)
    )
    assert catch_ups == 1
    assert reader.positions == {0: len(sent)}
    reference = stats_in(tmp_path / "ref")
    reference.rebuild(messages(events))
    assert rows(live) == rows(reference)
    assert rebuild.touched  # only the dossiers read while catching up were rewritten
    assert len(rebuild.touched) < len(tables(reference)[0])


# -- fresh tables fed in parts ----------------------------------------------------------


def split_by_dossier(events: list[Envelope]) -> tuple[list[Envelope], list[Envelope]]:
    """Two partitions' worth of events: each dossier's events in one of them."""
    ids = sorted({e.dossier_id for e in events})
    first = set(ids[: len(ids) // 2])
    return [e for e in events if e.dossier_id in first], [
        e for e in events if e.dossier_id not in first
    ]


def as_dicts(events: list[Envelope]) -> Iterator[dict[str, Any]]:
    for event in events:
        yield json.loads(encode(event))


def test_projections_of_different_partitions_merge_into_the_whole(tmp_path: Path) -> None:
    events = history(seed=17, dossiers=30)
    one, other = split_by_dossier(events)
    app = stats_in(tmp_path / "merged")
    rebuild = Rebuild(app.store)
    for e in as_dicts(one):
        rebuild.feed(e)
    rebuild.absorb(Projection().feed_all(as_dicts(other)))
    rebuild.fill()
    app.store.write(rebuild.swap)
    reference = stats_in(tmp_path / "ref")
    report = reference.rebuild(messages(events))
    assert tables(app) == tables(reference)
    assert rebuild.report() == report


def test_partitions_are_shared_by_their_number_of_messages() -> None:
    ends = {0: 100, 1: 10, 2: 90, 3: 20, 4: 0, 5: 5}
    groups = replay._split(ends, 2)
    assert sorted(sum(g.values()) for g in groups) == [110, 115]
    assert sorted(p for g in groups for p in g) == list(range(6))
    assert replay._split({0: 5}, 4) == [{0: 5}]
    assert replay._workers(3, ends) == 3
    assert replay._workers(None, ends) == 1  # a small topic: one process
    assert replay._workers(None, dict.fromkeys(range(6), replay.PARALLEL_FROM)) >= 1
    assert replay._workers(8, {0: 1, 1: 1}) == 2
