"""The outbox relay: in order, position after the ack, one publisher per store."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from motcua.auth import Caller
from motcua.runtime.kafka import ensure_topics, start_producer
from motcua.runtime.settings import Settings
from tests.dossiers import intake_relay, make_intake, submit
from tests.processes import Broker
from tests.topics import read_topic

pytestmark = pytest.mark.integration


def test_second_relay_on_the_same_store_publishes_nothing_while_first_holds_lease(
    database_url: str | None, broker: Broker, topic: str, tmp_path: Path
) -> None:
    intake = make_intake(database_url, tmp_path / "var")
    for _ in range(3):
        submit(intake)
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap, dossier_topic=topic)

    async def race() -> tuple[int, int, int]:
        await ensure_topics(settings, [topic])
        producer = await start_producer(settings)
        relays = [intake_relay(intake, producer, topic) for _ in range(2)]
        first = await relays[0].publish_once()
        second = await relays[1].publish_once()
        more = await relays[0].publish_once()
        await producer.stop()
        return first, second, more

    first, second, more = asyncio.run(race())

    assert (first, second, more) == (3, 0, 0)
    records = read_topic(broker.bootstrap, topic, lambda rs: len(rs) >= 3, settle=1.0)
    assert [r.event["type"] for r in records] == ["DossierSubmitted"] * 3
    by_partition: dict[int, list[int]] = {}
    for r in records:
        by_partition.setdefault(r.partition, []).append(int(r.headers["position"]))
    assert all(p == sorted(p) for p in by_partition.values())  # in order within a partition


def test_relay_position_survives_restart_so_nothing_is_published_twice(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    intake = make_intake(None, tmp_path / "var")
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap, dossier_topic=topic)

    async def publish_with_a_fresh_relay() -> int:
        await ensure_topics(settings, [topic])
        producer = await start_producer(settings)
        relay = intake_relay(intake, producer, topic)
        relay.owner = "same-instance"  # a restarted process holding its own expired lease
        published = await relay.publish_once()
        await producer.stop()
        return published

    dossier_id = submit(intake)
    first = asyncio.run(publish_with_a_fresh_relay())
    intake.accept(
        Caller(sub="o", role="officer", agency="001.20.51.H23"), dossier_id, correlation_id="t"
    )
    second = asyncio.run(publish_with_a_fresh_relay())

    assert (first, second) == (1, 3)  # the acceptance: 2 sequence events + Received
    records = read_topic(broker.bootstrap, topic, lambda rs: len(rs) >= 2, settle=1.0)
    assert [r.event["type"] for r in records] == ["DossierSubmitted", "DossierReceived"]


def test_a_batch_rebuilds_each_dossier_once_not_once_per_event(
    broker: Broker, topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = make_intake(None, tmp_path / "var")
    officer = Caller(sub="o", role="officer", agency="001.20.51.H23")
    dossiers = [submit(intake) for _ in range(3)]
    for dossier_id in dossiers:
        intake.accept(officer, dossier_id, correlation_id="t")
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap, dossier_topic=topic)
    loaded: list[uuid.UUID] = []
    get = intake.repository.get

    def counted(aggregate_id: uuid.UUID, **options: Any) -> Any:
        loaded.append(aggregate_id)
        return get(aggregate_id, **options)

    monkeypatch.setattr(intake.repository, "get", counted)

    async def publish() -> int:
        await ensure_topics(settings, [topic])
        producer = await start_producer(settings)
        published = await intake_relay(intake, producer, topic).publish_once()
        await producer.stop()
        return published

    assert asyncio.run(publish()) >= 6  # one batch: the dossiers' events and the sequence's
    records = read_topic(broker.bootstrap, topic, lambda rs: len(rs) >= 6, settle=1.0)
    assert sorted(r.event["type"] for r in records) == sorted(
        ["DossierSubmitted", "DossierReceived"] * 3
    )
    assert sorted(loaded) == sorted(dossiers)  # each dossier rebuilt once for its two events
