"""The one reader of a topic from its start: the cluster's options, the ends, the errors.

A fake consumer stands in for aiokafka's and records the options it was built with, so
that a caller which built its consumer from the bootstrap address alone (and so could
not read a TLS/SASL cluster) is caught here.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.partitioner import DefaultPartitioner

from devtools import load_checks
from devtools.demo import interagency as demo_interagency
from devtools.demo import run as demo
from motcua.runtime import topic_reader
from motcua.runtime.kafka import client_options
from motcua.runtime.settings import Settings
from motcua.runtime.topic_reader import (
    BrokerUnreachable,
    TopicMissing,
    TopicUnavailable,
    read_topic,
)
from ops import audit, republish
from tests.unit.test_kafka_options import SASL_SSL

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "dossier-events"
DOSSIER = uuid.UUID("6f1f7c1e-0000-4000-8000-000000000001")


class FakeBroker:
    """Topics as lists of (key, value) per partition; one batch per message."""

    def __init__(self) -> None:
        self.topics: dict[str, list[list[tuple[bytes, bytes]]]] = {}
        self.reachable = True
        self.answers = True  # False: fetches return nothing (a broker gone quiet)
        self.consumers: list[FakeConsumer] = []

    def publish(self, topic: str, partition: int, key: bytes, event: dict[str, Any]) -> None:
        self.topics.setdefault(topic, [[] for _ in range(3)])[partition].append(
            (key, json.dumps(event).encode())
        )


class FakeConsumer:
    def __init__(self, broker: FakeBroker, *topics: str, **options: Any) -> None:
        assert not topics, "the reader assigns partitions itself"
        self.broker, self.options = broker, options
        self.started = self.stopped = False
        self.positions: dict[TopicPartition, int] = {}
        broker.consumers.append(self)

    async def start(self) -> None:
        if not self.broker.reachable:
            raise KafkaConnectionError("Unable to bootstrap from [('k1', 9093)]")
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def topics(self) -> set[str]:
        return set(self.broker.topics)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        partitions = self.broker.topics.get(topic)
        return set(range(len(partitions))) if partitions is not None else None

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.positions = dict.fromkeys(partitions, -1)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[Any, int]:
        return dict.fromkeys(partitions, 0)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[Any, int]:
        return {tp: len(self.broker.topics[tp.topic][tp.partition]) for tp in partitions}

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int, max_records: int | None
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        assert all(self.positions[tp] >= 0 for tp in partitions), "read before a seek"
        if not self.broker.answers:
            return {}
        fetched = {}
        for tp in partitions or list(self.positions):
            log = self.broker.topics[tp.topic][tp.partition]
            start = self.positions[tp]
            taken = log[start : start + (max_records or len(log))]
            if taken:
                fetched[tp] = [_record(tp, start + i, k, v) for i, (k, v) in enumerate(taken)]
                self.positions[tp] = start + len(taken)
        return fetched


def _record(tp: TopicPartition, offset: int, key: bytes, value: bytes) -> Any:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, key, value, None, 0, 0, ())


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> FakeBroker:
    fake = FakeBroker()
    monkeypatch.setattr(
        topic_reader, "AIOKafkaConsumer", lambda *t, **o: FakeConsumer(fake, *t, **o)
    )
    return fake


def test_the_consumer_is_built_from_the_clusters_options_without_a_group(
    broker: FakeBroker,
) -> None:
    broker.publish(TOPIC, 0, b"d", {"type": "DossierSubmitted"})
    asyncio.run(read_topic(SASL_SSL, TOPIC))
    (consumer,) = broker.consumers
    assert_secured(consumer)
    assert consumer.options["group_id"] is None
    assert consumer.options["enable_auto_commit"] is False
    assert consumer.stopped


def test_reading_ends_at_the_end_offsets_of_the_moment_and_goes_on_when_asked(
    broker: FakeBroker,
) -> None:
    for n in range(3):
        broker.publish(TOPIC, n % 3, f"d{n}".encode(), {"n": n})

    async def read() -> tuple[list[int], list[int], int]:
        async with topic_reader.open_topic(SASL_SSL, TOPIC) as reader:
            first = [json.loads(r.value or b"")["n"] for r in await reader.read_to_end()]
            broker.publish(TOPIC, 1, b"late", {"n": 3})
            left = await reader.remaining()
            second = [json.loads(r.value or b"")["n"] for r in await reader.read_to_end()]
            return first, second, left

    first, second, left = asyncio.run(read())
    assert sorted(first) == [0, 1, 2]
    assert (second, left) == ([3], 1)


def test_chosen_partitions_only(broker: FakeBroker) -> None:
    for n in range(6):
        broker.publish(TOPIC, n % 3, b"k", {"n": n})
    records = asyncio.run(read_topic(SASL_SSL, TOPIC, lambda numbers: [numbers[-1]]))
    assert [(r.partition, r.offset) for r in records] == [(2, 0), (2, 1)]
    assert [r.partition for r in asyncio.run(read_topic(SASL_SSL, TOPIC, [1]))] == [1, 1]


def test_a_missing_topic_is_said_or_read_as_empty(broker: FakeBroker) -> None:
    with pytest.raises(TopicMissing, match=f"topic {TOPIC} does not exist"):
        asyncio.run(read_topic(SASL_SSL, TOPIC))
    assert asyncio.run(read_topic(SASL_SSL, TOPIC, missing_ok=True)) == []
    assert all(c.stopped for c in broker.consumers)


def test_an_unreachable_broker_is_said_with_its_address(broker: FakeBroker) -> None:
    broker.reachable = False
    with pytest.raises(BrokerUnreachable, match=r"k1:9093,k2:9093 \(SASL_SSL\)"):
        asyncio.run(read_topic(SASL_SSL, TOPIC))


def test_a_broker_gone_quiet_ends_the_reading_after_the_timeout(broker: FakeBroker) -> None:
    broker.publish(TOPIC, 0, b"d", {"n": 0})
    broker.answers = False
    with pytest.raises(TopicUnavailable, match=r"nothing from dossier-events for 0\.2 s"):
        asyncio.run(read_topic(SASL_SSL, TOPIC, timeout=0.2))


def test_a_closed_port_is_an_unreachable_broker() -> None:
    closed = Settings(kafka_bootstrap_servers="127.0.0.1:1")
    with pytest.raises(BrokerUnreachable, match=r"127\.0\.0\.1:1"):
        asyncio.run(read_topic(closed, TOPIC, timeout=10))


def _interagency() -> Coroutine[Any, Any, Any]:
    return demo_interagency.read_to_end(SASL_SSL, TOPIC)


def _chaos_checks() -> Coroutine[Any, Any, Any]:
    return load_checks.read_events(SASL_SSL, TOPIC, quiet=0)


def _demo() -> Coroutine[Any, Any, Any]:
    return demo.count_events(SASL_SSL, {str(DOSSIER)}, expected=1, timeout=0)


def _audit() -> Coroutine[Any, Any, Any]:
    return audit.read_topic(SASL_SSL, DOSSIER)


def _republish() -> Coroutine[Any, Any, Any]:
    return republish.topic_is_empty(SASL_SSL)


@pytest.mark.parametrize(
    "read", [_interagency, _chaos_checks, _demo, _audit, _republish], ids=lambda f: f.__name__
)
def test_every_reader_of_a_topic_connects_with_the_clusters_options(
    broker: FakeBroker, read: Callable[[], Coroutine[Any, Any, Any]]
) -> None:
    partition = DefaultPartitioner()(str(DOSSIER).encode(), [0, 1, 2], [0, 1, 2])
    broker.publish(TOPIC, partition, str(DOSSIER).encode(), {"type": "DossierSubmitted"})
    asyncio.run(read())
    assert broker.consumers
    for consumer in broker.consumers:
        assert_secured(consumer)


def test_no_other_module_builds_a_consumer_of_its_own() -> None:
    """Tools read topics with ``runtime.topic_reader``; services with ``runtime.consumer``."""
    allowed = {"motcua/runtime/topic_reader.py", "motcua/runtime/consumer.py"}
    builders = {
        str(path.relative_to(ROOT))
        for folder in ("motcua", "bench", "services")
        for path in (ROOT / folder).rglob("*.py")
        if "AIOKafkaConsumer(" in path.read_text(encoding="utf-8")
    }
    assert builders <= allowed


def assert_secured(consumer: FakeConsumer) -> None:
    expected = client_options(SASL_SSL)
    assert {k: v for k, v in consumer.options.items() if k in expected and k != "ssl_context"} == {
        k: v for k, v in expected.items() if k != "ssl_context"
    }
    assert consumer.options["security_protocol"] == "SASL_SSL"
    assert consumer.options["sasl_plain_password"] == "s3cret"
    assert isinstance(consumer.options["ssl_context"], ssl.SSLContext)
