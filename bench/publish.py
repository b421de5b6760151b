"""The relay's way of publishing, through FastStream and through aiokafka alone.

Both send the same records (the pipeline events' mean size, keyed by dossier, the
relay's headers) the way the relay does: one send per record without waiting, then one
``gather`` of the acknowledgements per batch of 500, ``acks=all``, on the embedded
broker. Reported: CPU of this process per record (``time.process_time``) and records
per second, best of ``--rounds`` rounds each, alternating. Figures, not assertions:
``docs/architecture.md`` §4 records what they decided.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from motcua.runtime.broker import kafka_broker
from motcua.runtime.kafka import client_options, ensure_topics, start_producer
from motcua.runtime.publishing import AiokafkaTopic, FastStreamTopic, Topic
from motcua.runtime.settings import Settings
from tests.support.processes import start_broker

BATCH = 500
PAYLOAD = b"x" * 639  # the pipeline's mean event size (bench.pipeline)


async def _round(topic: Topic, count: int) -> tuple[float, float]:
    """CPU seconds and wall seconds to publish ``count`` records, batch by batch."""
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, count, BATCH):
        futures = [
            await topic.send(
                PAYLOAD,
                key=str(uuid.uuid4()).encode(),
                headers={"producer": "intake", "position": str(n), "type": "DossierReceived"},
                correlation_id="bench",
            )
            for n in range(start, min(start + BATCH, count))
        ]
        await asyncio.gather(*futures)
    return time.process_time() - cpu, time.perf_counter() - wall


async def measure(bootstrap: str, count: int, rounds: int) -> dict[str, tuple[float, float]]:
    settings = Settings(kafka_bootstrap_servers=bootstrap)
    await ensure_topics(settings, ["bench-aiokafka", "bench-faststream"])
    producer = await start_producer(settings)
    broker = kafka_broker(client_options(settings))
    faststream = FastStreamTopic(broker.publisher("bench-faststream"), "bench-faststream")
    await broker.start()
    clients: dict[str, Topic] = {
        "aiokafka": AiokafkaTopic(producer, "bench-aiokafka"),
        "faststream": faststream,
    }
    best: dict[str, tuple[float, float]] = {}
    try:
        for topic in clients.values():  # warm-up: connections, metadata
            await _round(topic, BATCH)
        for _ in range(rounds):
            for name, topic in clients.items():
                cpu, wall = await _round(topic, count)
                if name not in best or cpu < best[name][0]:
                    best[name] = (cpu, wall)
    finally:
        await broker.stop()
        await producer.stop()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        broker = start_broker(Path(work))
        try:
            best = asyncio.run(measure(broker.bootstrap, args.records, args.rounds))
        finally:
            broker.stop()
    for name, (cpu, wall) in best.items():
        print(
            f"{name:10} {cpu / args.records * 1e6:7.1f} µs CPU/record"
            f"  {args.records / wall:9,.0f} records/s"
        )


if __name__ == "__main__":
    main()
