"""Nothing lost, nothing doubled: crashes of intake and redelivery to tracked consumers."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from motcua.runtime.settings import Settings
from tests.support.dossiers import officer, submit_birth
from tests.support.ledger import Ledger, consume_until
from tests.support.processes import Broker, ServiceProcess
from tests.support.topics import read_topic

pytestmark = pytest.mark.integration


def settings_for(broker: Broker, topic: str) -> Settings:
    return Settings(kafka_bootstrap_servers=broker.bootstrap, dossier_topic=topic)


@pytest.mark.store_semantics
def test_events_committed_before_a_kill_are_published_once_after_restart(
    start_intake: Callable[..., ServiceProcess], broker: Broker, topic: str
) -> None:
    silent = start_intake(MOTCUA_RELAY_ENABLED="false")
    with httpx.Client(base_url=silent.url, timeout=30) as client:
        dossier_id = submit_birth(client)
        client.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer())
    silent.kill()  # committed to the store, never published

    start_intake()

    records = read_topic(broker.bootstrap, topic, lambda rs: len(rs) >= 2, settle=2.0)
    assert [r.event["type"] for r in records] == ["DossierSubmitted", "DossierReceived"]


@pytest.mark.store_semantics
def test_crash_after_publish_repeats_the_batch_but_consumers_apply_it_once(
    start_intake: Callable[..., ServiceProcess], broker: Broker, topic: str, tmp_path: Path
) -> None:
    crashing = start_intake(MOTCUA_FAULT_RELAY_EXIT_AFTER_PUBLISH="true")
    with httpx.Client(base_url=crashing.url, timeout=30) as client:
        submit_birth(client)
    assert crashing.process is not None
    assert crashing.process.wait(20) == 17  # died after the ack, before recording its position
    start_intake()
    records = read_topic(broker.bootstrap, topic, lambda rs: len(rs) >= 2, settle=1.0)
    ledger = Ledger(tmp_path / "ledger")

    consumer = asyncio.run(
        consume_until(ledger, settings_for(broker, topic), lambda c: c.applied + c.skipped >= 2)
    )

    ids = [r.event["event_id"] for r in records]
    assert len(ids) == 2  # published twice…
    assert len(set(ids)) == 1  # …and it is the same event
    assert [row["event_id"] for row in ledger.rows()] == ids[:1]
    assert consumer.applied == 1
    assert consumer.skipped >= 1


@pytest.mark.store_semantics
def test_consumer_resumes_from_its_own_store_not_kafka_offsets(
    start_intake: Callable[..., ServiceProcess], broker: Broker, topic: str, tmp_path: Path
) -> None:
    intake = start_intake()
    client = httpx.Client(base_url=intake.url, timeout=30)
    submit_birth(client)
    ledger = Ledger(tmp_path / "ledger")
    settings = settings_for(broker, topic)
    asyncio.run(consume_until(ledger, settings, lambda c: c.applied >= 1, group_id="first-group"))
    submit_birth(client)

    # A new Kafka group has no committed offsets: only our stored positions say where to go.
    second = asyncio.run(
        consume_until(ledger, settings, lambda c: c.applied >= 1, group_id="second-group")
    )

    assert [row["type"] for row in ledger.rows()] == ["DossierSubmitted", "DossierSubmitted"]
    assert second.applied == 1


def test_undecodable_message_goes_to_dlq_with_reason_and_consumer_carries_on(
    start_intake: Callable[..., ServiceProcess], broker: Broker, topic: str, tmp_path: Path
) -> None:
    settings = settings_for(broker, topic)
    asyncio.run(_produce(broker, topic, [b"\xff not json", b'{"type": "DossierReceived"}']))
    intake = start_intake()
    with httpx.Client(base_url=intake.url, timeout=30) as client:
        submit_birth(client)
    ledger = Ledger(tmp_path / "ledger")

    consumer = asyncio.run(consume_until(ledger, settings, lambda c: c.applied >= 3))

    dead = read_topic(broker.bootstrap, settings.dlq_topic("ledger"), lambda rs: len(rs) >= 2)
    reasons = [r.headers["dlq-reason"] for r in dead]
    assert all(reason.startswith("undecodable") for reason in reasons)
    assert "code" in reasons[1]  # names the missing field
    assert [row["type"] for row in ledger.rows()] == ["DossierSubmitted"]
    assert consumer.dead_lettered == 2


def test_unknown_event_types_are_ignored_not_dead_lettered(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    future = b'{"type": "DossierTeleported", "dossier_id": "%s"}' % str(uuid.uuid4()).encode()
    asyncio.run(_produce(broker, topic, [future]))
    ledger = Ledger(tmp_path / "ledger")

    consumer = asyncio.run(
        consume_until(ledger, settings_for(broker, topic), lambda c: c.applied >= 1)
    )

    assert Counter({"applied": consumer.applied, "dlq": consumer.dead_lettered}) == Counter(
        {"applied": 1, "dlq": 0}
    )
    assert ledger.rows() == []


async def _produce(broker: Broker, topic: str, payloads: list[bytes]) -> None:
    from motcua.runtime.kafka import ensure_topics

    await ensure_topics(Settings(kafka_bootstrap_servers=broker.bootstrap), [topic])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        for payload in payloads:
            await producer.send_and_wait(topic, payload, key=b"k")
    finally:
        await producer.stop()
