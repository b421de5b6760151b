"""Kafka wiring shared by the services: topics, producers and message headers."""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError

from motcua.settings import Settings

log = structlog.get_logger(__name__)

TOPIC_EXISTS = 36
# Event topics keep everything forever: they are the audit trail and the replay source.
EVENT_TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1"}


async def ensure_topics(settings: Settings, topics: list[str], *, attempts: int = 60) -> None:
    """Create ``topics`` (with infinite retention) unless they exist; wait for the broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await _start_with_retry(admin, attempts)
    try:
        new = [
            NewTopic(name, settings.topic_partitions, 1, topic_configs=EVENT_TOPIC_CONFIG)
            for name in topics
        ]
        response = await admin.create_topics(new)
        for name, code, message in response.topic_errors:
            if code not in (0, TOPIC_EXISTS):
                raise RuntimeError(f"cannot create topic {name}: {message} (error {code})")
    finally:
        await admin.close()


async def _start_with_retry(client: AIOKafkaAdminClient | AIOKafkaProducer, attempts: int) -> None:
    for attempt in range(attempts):
        try:
            await client.start()
            return
        except KafkaConnectionError:
            if attempt == attempts - 1:
                raise
            log.info("waiting for kafka broker", attempt=attempt + 1)
            await asyncio.sleep(0.5)


async def start_producer(settings: Settings) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas before a send counts as done."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=2,
        max_batch_size=1024 * 1024,
    )
    await _start_with_retry(producer, 60)
    return producer


def header(
    headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...], name: str
) -> str | None:
    for key, value in headers or ():
        if key == name:
            return value.decode(errors="replace")
    return None
