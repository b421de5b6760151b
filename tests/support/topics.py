"""Reading topics the way a ministry system would: a plain Kafka consumer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from motcua.runtime.settings import Settings
from motcua.runtime.topic_reader import Record as KafkaRecord
from motcua.runtime.topic_reader import open_topic


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
    """All records from the start until ``until(records)`` holds (then ``settle`` s more);
    without a consumer group, so there is no group join to wait for."""
    return asyncio.run(_read(bootstrap, topic, until, timeout, settle))


async def _read(
    bootstrap: str, topic: str, until: Callable[[list[Record]], bool], timeout: float, settle: float
) -> list[Record]:
    settings = Settings(kafka_bootstrap_servers=bootstrap)
    records: list[Record] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    settled_at: float | None = None
    async with open_topic(settings, topic, timeout=timeout, wait_for_topic=timeout) as reader:
        while loop.time() < deadline:
            new = await reader.read_to_end()
            records += [to_record(r) for r in new]
            if settled_at is None and until(records):
                settled_at = loop.time()
            if settled_at is not None and loop.time() - settled_at >= settle:
                return records
            if not new:
                await asyncio.sleep(0.1)
    raise TimeoutError(f"condition not met on {topic} after {timeout}s; got {len(records)} records")


def to_record(r: KafkaRecord) -> Record:
    return Record(
        (r.key or b"").decode(),
        r.partition,
        r.offset,
        {k: v.decode() for k, v in r.headers or ()},
        _json(r.value),
    )


def _json(value: bytes | None) -> dict[str, Any]:
    try:
        parsed = json.loads(value or b"{}")
    except ValueError:
        return {"raw": (value or b"").decode(errors="replace")}
    return parsed if isinstance(parsed, dict) else {"raw": parsed}
