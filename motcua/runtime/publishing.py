"""Where a relay's records go: a FastStream publisher declared on the service's broker.

The relay (``relay.py``) hands over each record's payload (the exact bytes the chain
hashed), key and text headers, and gets back a future of the broker's acknowledgement;
it awaits the futures of a batch together before recording its position. Both sides
of that seam are kept by either client:

* ``FastStreamTopic``: ``publisher.publish(..., no_confirm=True)`` per record. The
  broker is built with ``acks="all"`` (FastStream's default is 1). FastStream adds a
  ``correlation_id`` header (we give it the event's own) and a ``content-type`` one
  (we say ``application/json``); the value is sent as given. ``publish_batch`` is of no
  use here: it sends a whole batch to one partition with one set of headers.
* ``AiokafkaTopic``: the same over a plain aiokafka producer, for the tests' relays and
  ``bench.publish``, which have no broker of FastStream's. (``motcua republish`` sends
  with its own aiokafka producer and the ``producer``/``position``/``type`` headers
  only: the consumers read nothing else.)
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol, cast

from aiokafka import AIOKafkaProducer
from faststream.kafka.publisher.usecase import DefaultPublisher

CONTENT_TYPE = "application/json"


class Topic(Protocol):
    """One topic a relay publishes to."""

    name: str

    async def send(
        self, payload: bytes, *, key: bytes, headers: dict[str, str], correlation_id: str
    ) -> Awaitable[Any]:
        """Hand the record over; the result resolves once the broker acknowledged it."""
        ...


class FastStreamTopic:
    """A FastStream publisher of the service's broker."""

    def __init__(self, publisher: DefaultPublisher, name: str) -> None:
        self.publisher, self.name = publisher, name

    async def send(
        self, payload: bytes, *, key: bytes, headers: dict[str, str], correlation_id: str
    ) -> Awaitable[Any]:
        return await self.publisher.publish(
            payload,
            key=key,
            headers={"content-type": CONTENT_TYPE, **headers},
            correlation_id=correlation_id,
            no_confirm=True,
        )


class AiokafkaTopic:
    """The same over a plain aiokafka producer."""

    def __init__(self, producer: AIOKafkaProducer, name: str) -> None:
        self.producer, self.name = producer, name

    async def send(
        self, payload: bytes, *, key: bytes, headers: dict[str, str], correlation_id: str
    ) -> Awaitable[Any]:
        sent = {"content-type": CONTENT_TYPE, "correlation_id": correlation_id, **headers}
        return await self.producer.send(  # type: ignore[no-any-return]
            self.name, payload, key=key, headers=[(k, v.encode()) for k, v in sent.items()]
        )


def topic_of(producer: AIOKafkaProducer | Topic, name: str) -> Topic:
    """``producer`` as a relay's topic: anything else than one of the topics above is
    taken for an aiokafka producer (or a test's stand-in for one) and wrapped."""
    if isinstance(producer, FastStreamTopic | AiokafkaTopic):
        return producer
    return AiokafkaTopic(cast(AIOKafkaProducer, producer), name)
