"""Kafka wiring shared by the services: topics, producers and message headers."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError
from aiokafka.helpers import create_ssl_context

from motcua.runtime.settings import Settings

log = structlog.get_logger(__name__)

TOPIC_EXISTS = 36
# Event topics keep everything forever: they are the audit trail and the replay source.
EVENT_TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1"}


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options every Kafka client of ours uses: servers, TLS and SASL."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )
    if settings.kafka_security_protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password.get_secret_value() if password else None,
        )
    return options


def topic_configs(settings: Settings) -> dict[str, str]:
    """Infinite retention; with replicas, a write counts once two of them have it."""
    replicas = settings.topic_replication_factor
    extra = {"min.insync.replicas": str(max(1, replicas - 1))} if replicas > 1 else {}
    return {**EVENT_TOPIC_CONFIG, **extra}


async def ensure_topics(settings: Settings, topics: list[str], *, attempts: int = 60) -> None:
    """Create ``topics`` (with infinite retention) unless they exist; wait for the broker."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await _start_with_retry(admin, attempts)
    try:
        new = [
            NewTopic(
                name,
                settings.topic_partitions,
                settings.topic_replication_factor,
                topic_configs=topic_configs(settings),
            )
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
        **client_options(settings),
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
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
