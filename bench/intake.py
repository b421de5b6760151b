"""Benchmark of intake on the embedded defaults: commands, relay, and the raw broker.

Prints a table and writes ``bench/results/intake.json``. Figures, not assertions:
targets live in docs, never in timed tests.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.table import Table

from devtools.processes import start_broker
from motcua.runtime.kafka import ensure_topics, start_producer
from motcua.runtime.mapping import contracts_of
from motcua.runtime.settings import Settings
from motcua.runtime.topic_reader import open_topic
from motcua.web.auth import Caller
from services.intake.application import IntakeApplication
from services.intake.to_contract import IntakePublisher
from tests.support.dossiers import BIRTH_AGENCY, intake_relay, make_intake, submit

DOSSIERS = 1000
OFFICER = Caller(sub="bench-officer", role="officer", agency=BIRTH_AGENCY)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def commands(intake: IntakeApplication) -> dict[str, float]:
    """Submit and accept DOSSIERS dossiers in-process; latency per command in ms."""
    submit_ms, accept_ms = [], []
    start = time.perf_counter()
    for _ in range(DOSSIERS):
        t0 = time.perf_counter()
        dossier_id = submit(intake)
        t1 = time.perf_counter()
        intake.accept(OFFICER, dossier_id, correlation_id="bench")
        submit_ms.append((t1 - t0) * 1000)
        accept_ms.append((time.perf_counter() - t1) * 1000)
    elapsed = time.perf_counter() - start
    return {
        "dossiers_per_s": DOSSIERS / elapsed,
        "upload_submit_p50_ms": percentile(submit_ms, 50),
        "upload_submit_p99_ms": percentile(submit_ms, 99),
        "accept_p50_ms": percentile(accept_ms, 50),
        "accept_p99_ms": percentile(accept_ms, 99),
    }


async def relay_rate(intake: IntakeApplication, settings: Settings) -> dict[str, float]:
    """Publish everything recorded so far through the outbox relay; events/s."""
    await ensure_topics(settings, [settings.dossier_topic])
    producer = await start_producer(settings)
    relay = intake_relay(intake, producer, settings.dossier_topic)
    start = time.perf_counter()
    while await relay.publish_once():
        pass
    elapsed = time.perf_counter() - start
    await producer.stop()
    published = 2 * DOSSIERS
    return {"relay_events_per_s": published / elapsed}


async def raw_broker(settings: Settings, count: int, size: int) -> dict[str, float]:
    """aiokafka alone: produce then consume ``count`` messages of ``size`` bytes."""
    topic = f"raw-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic])
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=2
    )
    await producer.start()
    payload = b"x" * size
    start = time.perf_counter()
    futures = [await producer.send(topic, payload, key=str(i).encode()) for i in range(count)]
    await asyncio.gather(*futures)
    produce = count / (time.perf_counter() - start)
    await producer.stop()
    async with open_topic(settings, topic) as reader:
        start, got = time.perf_counter(), 0
        async for records in reader.batches():
            got += len(records)
        consume = got / (time.perf_counter() - start)
    return {"raw_produce_per_s": produce, "raw_consume_per_s": consume}


def main() -> None:
    console = Console()
    work = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    broker = start_broker(work)
    try:
        settings = Settings(
            kafka_bootstrap_servers=broker.bootstrap, dossier_topic=f"bench-{uuid.uuid4().hex[:8]}"
        )
        intake = make_intake(None, work)
        with console.status(f"submitting and accepting {DOSSIERS} dossiers (SQLite)…"):
            results: dict[str, Any] = commands(intake)
        with console.status("publishing them through the outbox relay…"):
            results |= asyncio.run(relay_rate(intake, settings))
        stored = [
            intake.mapper.to_domain_event(n) for n in intake.recorder.select_notifications(1, 10)
        ]
        events = contracts_of(stored, IntakePublisher(intake), intake.repository)
        sizes = [len(e.model_dump_json()) for e in events if e is not None]
        size = round(statistics.mean(sizes))
        results["event_bytes"] = size
        with console.status("raw broker baseline…"):
            results |= asyncio.run(raw_broker(settings, 2 * DOSSIERS, size))
    finally:
        broker.stop()
    results["relay_to_raw_ratio"] = results["relay_events_per_s"] / results["raw_produce_per_s"]
    table = Table(title=f"intake on embedded defaults ({DOSSIERS} dossiers)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in results.items():
        table.add_row(key, f"{value:,.2f}")
    console.print(table)
    out = Path(__file__).parent / "results" / "intake.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    console.print(f"saved {out}")


if __name__ == "__main__":
    main()
