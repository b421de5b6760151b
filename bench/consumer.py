"""CPU of the tracked consumer's Kafka layer alone, on the embedded broker.

A consumer whose handlers take no type: every record is only tracked, so the store does
one transaction per batch and the figures are the client's and FastStream's. Measured
in CPU time of this process (``time.process_time``), which holds better than wall time
on a shared machine: while idle (joined, nothing to read) and while applying
``--records`` records of the pipeline events' mean size. Run from a checkout of an
older commit to compare (``docs/architecture.md`` §4 has the figures).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from motcua.runtime.consumer import TrackedConsumer
from motcua.runtime.handlers import Handlers
from motcua.runtime.kafka import ensure_topics, start_producer
from motcua.runtime.settings import Settings
from tests.support.ledger import Ledger
from tests.support.processes import start_broker

IDLE_SECONDS = 15.0
PAYLOAD = b"x" * 639  # the pipeline's mean event size (bench.pipeline)


async def measure(bootstrap: str, work: Path, records: int) -> tuple[float, float]:
    """Idle CPU seconds per second, and CPU seconds per record applied."""
    settings = Settings(kafka_bootstrap_servers=bootstrap, dossier_topic="bench")
    await ensure_topics(settings, ["bench", "bench.dlq"])
    producer = await start_producer(settings)
    ledger = Ledger(work / "ledger")
    consumer = TrackedConsumer(
        name="bench",
        topics=["bench"],
        app=ledger.app,
        store=ledger.store,
        handlers=Handlers({}),
        bootstrap_servers=bootstrap,
        dlq_producer=producer,
        dlq_topic="bench.dlq",
    )
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.sleep(8)  # joined the group
        start = time.process_time()
        await asyncio.sleep(IDLE_SECONDS)
        idle = (time.process_time() - start) / IDLE_SECONDS
        futures = []
        for n in range(records):
            headers = [("producer", b"i"), ("position", str(n + 1).encode()), ("type", b"X")]
            futures.append(
                await producer.send("bench", PAYLOAD, key=str(n % 97).encode(), headers=headers)
            )
        await asyncio.gather(*futures)
        start = time.process_time()
        while consumer.applied < records:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        busy = (time.process_time() - start) / records
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await producer.stop()
    return idle, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        broker = start_broker(Path(work))
        try:
            idle, busy = asyncio.run(measure(broker.bootstrap, Path(work), args.records))
        finally:
            broker.stop()
    print(f"idle {idle * 1000:.1f} ms CPU/s, {busy * 1e6:.1f} µs CPU/record")


if __name__ == "__main__":
    main()
