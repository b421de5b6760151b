"""Reading topics the way a ministry system would: a plain Kafka consumer."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer


@dataclass(frozen=True)
class Record:
    key: str
    partition: int
    offset: int
    headers: dict[str, str]
    event: dict[str, Any]


def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[Record]], bool],
    timeout: float = 20.0,
    settle: float = 0.0,
) -> list[Record]:
    """All records from the start until ``until(records)`` holds (then ``settle`` s more)."""
    return asyncio.run(_read(bootstrap, topic, until, timeout, settle))


async def _read(
    bootstrap: str, topic: str, until: Callable[[list[Record]], bool], timeout: float, settle: float
) -> list[Record]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Record] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    settled_at: float | None = None
    try:
        while loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records += [
                    Record(
                        (r.key or b"").decode(),
                        r.partition,
                        r.offset,
                        {k: v.decode() for k, v in r.headers or ()},
                        _json(r.value),
                    )
                    for r in batch
                ]
            if settled_at is None and until(records):
                settled_at = loop.time()
            if settled_at is not None and loop.time() - settled_at >= settle:
                return records
    finally:
        await consumer.stop()
    raise TimeoutError(f"condition not met on {topic} after {timeout}s; got {len(records)} records")


def _json(value: bytes | None) -> dict[str, Any]:
    try:
        parsed = json.loads(value or b"{}")
    except ValueError:
        return {"raw": (value or b"").decode(errors="replace")}
    return parsed if isinstance(parsed, dict) else {"raw": parsed}
