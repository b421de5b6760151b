"""Poison messages on the topic land in the consuming service's DLQ with their reason
while real dossiers keep flowing; ``/metrics`` shows what the services did."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from contracts.events import encode
from contracts.workflow import StepClaimed
from devtools.demo.client import APPLICANTS, DemoClient
from devtools.demo.workflow import wait_for_process
from motcua.runtime.consumer import DLQ_KEEP_BYTES, MAX_MESSAGE_BYTES
from motcua.runtime.kafka import ensure_topics
from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from tests.support.processes import Broker, ServiceProcess
from tests.support.topics import read_topic

pytestmark = pytest.mark.integration

DRIVING = "1.002804"


def wrong_version() -> bytes:
    """A well-formed event of a schema version no consumer here reads yet."""
    event = StepClaimed(
        schema_version=2,
        event_id=uuid.uuid4(),
        dossier_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        producer="workflow",
        correlation_id="test",
        step_index=0,
        agency_code="000.00.22.H23",
        officer="x",
        assigned_by="y",
    )
    return encode(event)


POISON = {
    "not json": b"\xff\xfe garbage",
    "not a contract": b'{"type": "DossierReceived", "dossier_id": "nope"}',
    "wrong version": wrong_version(),
    "oversized": json.dumps({"type": "DossierReceived", "pad": "x" * MAX_MESSAGE_BYTES}).encode(),
}


async def produce(broker: Broker, topic: str) -> None:
    await ensure_topics(Settings(kafka_bootstrap_servers=broker.bootstrap), [topic])
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap, max_request_size=4 * MAX_MESSAGE_BYTES
    )
    await producer.start()
    try:
        for name, payload in POISON.items():
            await producer.send_and_wait(topic, payload, key=name.encode())
    finally:
        await producer.stop()


def metric(url: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` that carry ``labels`` in a service's ``/metrics``."""
    total = 0.0
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def test_poison_messages_are_dead_lettered_with_reasons_and_dossiers_keep_flowing(
    start_service: Callable[..., ServiceProcess], broker: Broker, topic: str
) -> None:
    asyncio.run(produce(broker, topic))
    intake = start_service("intake")
    workflow = start_service("workflow")
    client = DemoClient(intake.url, workflow.url, DEV_JWT_SECRET)
    dossier_id, agency = client.submit(APPLICANTS[0], DRIVING)
    client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))

    wait_for_process(client, dossier_id)  # the poison before it did not stop workflow

    dead = read_topic(broker.bootstrap, "workflow.dlq", lambda rs: len(rs) >= len(POISON))
    reasons = {r.key: r.headers["dlq-reason"] for r in dead if r.key in POISON}
    assert reasons["not json"].startswith("undecodable")
    assert reasons["not a contract"].startswith("undecodable")
    assert "unsupported schema_version 2 of StepClaimed" in reasons["wrong version"]
    assert reasons["oversized"].startswith("oversized")
    oversized = next(r for r in dead if r.key == "oversized")
    assert int(oversized.headers["dlq-truncated-from"]) > MAX_MESSAGE_BYTES
    assert all(r.headers["dlq-source"].startswith(topic) for r in dead)

    dlq = "motcua_consumer_dead_lettered_total"
    assert metric(workflow.url, dlq, service="workflow", reason="oversized") == 1
    assert metric(workflow.url, dlq, service="workflow", reason="undecodable") == 3
    assert metric(workflow.url, "motcua_consumer_events_applied_total", service="workflow") >= 2
    assert metric(workflow.url, "motcua_consumer_handler_seconds_count", service="workflow") >= 2
    assert metric(intake.url, "motcua_relay_published_total", service="intake") >= 2
    assert metric(intake.url, "motcua_relay_lag_events", service="intake") == 0
    assert DLQ_KEEP_BYTES < MAX_MESSAGE_BYTES
