"""The outbox relay: in order, position after the ack, one publisher per store."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from motcua.runtime.broker import kafka_broker
from motcua.runtime.kafka import client_options, ensure_topics, start_producer
from motcua.runtime.publishing import FastStreamTopic
from motcua.runtime.settings import Settings
from motcua.runtime.topic_reader import Record as KafkaRecord
from motcua.runtime.topic_reader import read_topic as read_records
from motcua.web.auth import Caller
from tests.support.dossiers import intake_relay, make_intake, submit
from tests.support.processes import Broker
from tests.support.topics import read_topic

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


def test_a_faststream_publisher_sends_the_relays_bytes_and_headers_as_given_with_acks_all(
    broker: Broker, topic: str
) -> None:
    """The relay's topics are FastStream publishers: the payload (the bytes the chain
    hashed) and the key arrive unchanged, each record's own headers with them, and the
    producer waits for all in-sync replicas."""
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap, dossier_topic=topic)
    payloads = [b'{"a": 1}', b"\xff\x00 not text at all", b"{}"]

    async def publish() -> tuple[Any, list[KafkaRecord]]:
        await ensure_topics(settings, [topic])
        faststream = kafka_broker(client_options(settings))
        sink = FastStreamTopic(faststream.publisher(topic), topic)
        await faststream.start()
        try:
            producer: Any = faststream.config.broker_config.producer
            acks = producer._producer.producer._sender._acks  # aiokafka's, as it runs
            futures = [
                await sink.send(
                    payload,
                    key=f"k{n}".encode(),
                    headers={"producer": "intake", "position": str(n), "type": "T"},
                    correlation_id=f"c{n}",
                )
                for n, payload in enumerate(payloads)
            ]
            await asyncio.gather(*futures)
        finally:
            await faststream.stop()
        return acks, await read_records(settings, topic)

    acks, records = asyncio.run(publish())

    assert acks == -1  # "all"
    assert sorted(r.value for r in records) == sorted(payloads)
    for r in records:
        n = payloads.index(r.value)
        assert r.key == f"k{n}".encode()
        assert dict(r.headers) == {
            "content-type": b"application/json",
            "correlation_id": f"c{n}".encode(),
            "producer": b"intake",
            "position": str(n).encode(),
            "type": b"T",
        }
