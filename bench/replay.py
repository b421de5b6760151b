"""Benchmark of ``motcua replay stats``: a synthetic year rebuilt from the topic.

Starts the embedded broker, publishes a year of realistic contract events
(``bench/history.py``; 1,000,000 by default), then measures

* the raw consume rate: aiokafka alone reading the whole topic, with the replay's
  fetch settings and nothing done per message but reading its value;
* the replay: ``ops.replay.replay_stats`` into a fresh SQLite stats store, from
  offset 0 to the swap.

Prints both side by side with the 10 s target and writes ``bench/results/replay.json``.
Figures, not assertions. ``--profile`` also writes the replay's cProfile statistics to
``bench/results/replay.prof`` and prints the top of them. The replay runs twice: in one
process, then with its default number of reading processes (one per CPU).

    .venv/bin/python -m bench.replay --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import pstats
import resource
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from rich.console import Console
from rich.table import Table

from bench.history import Message, year_of_messages
from devtools.processes import start_broker
from motcua.core.logging import configure_logging
from motcua.runtime.kafka import client_options, ensure_topics
from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from motcua.runtime.topic_reader import open_topic
from ops.replay import FETCH_MAX_BYTES, MAX_RECORDS, PARTITION_FETCH_BYTES, replay_stats
from services.stats.application import StatsApplication

TARGET_SECONDS = 10.0
RESULTS = Path(__file__).parent / "results"


async def produce(settings: Settings, messages: Iterable[Message]) -> int:
    """Publish ``messages`` as fast as the client allows: whole batches per partition,
    partitioned by key exactly as the relay's producer does (murmur2 of the dossier id)."""
    producer = AIOKafkaProducer(
        **client_options(settings),
        acks=1,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(settings.dossier_topic))
        partition_of: dict[bytes, int] = {}
        batches = {p: producer.create_batch() for p in partitions}
        pending: list[asyncio.Future[Any]] = []
        sent = 0
        for m in messages:
            p = partition_of.get(m.key)
            if p is None:
                p = partition_of[m.key] = DefaultPartitioner()(m.key, partitions, partitions)
            if batches[p].append(key=m.key, value=m.value, timestamp=None, headers=m.headers):
                sent += 1
                continue
            pending.append(
                await producer.send_batch(batches[p], settings.dossier_topic, partition=p)
            )
            batches[p] = producer.create_batch()
            batches[p].append(key=m.key, value=m.value, timestamp=None, headers=m.headers)
            sent += 1
            if len(pending) >= 64:
                await asyncio.gather(*pending)
                pending.clear()
        for p, batch in batches.items():
            pending.append(await producer.send_batch(batch, settings.dossier_topic, partition=p))
        await asyncio.gather(*pending)
        return sent
    finally:
        await producer.stop()


REPLAY_FETCH = {
    "fetch_max_bytes": FETCH_MAX_BYTES,
    "max_partition_fetch_bytes": PARTITION_FETCH_BYTES,
}


async def raw_consume(
    settings: Settings, max_records: int | None = MAX_RECORDS, fetch: dict[str, Any] | None = None
) -> dict[str, float]:
    """aiokafka alone: the whole topic with the replay's fetch settings (or ``fetch``, and
    ``max_records`` a batch); msgs/s and MB/s."""
    options = REPLAY_FETCH if fetch is None else fetch
    async with open_topic(settings, settings.dossier_topic, **options) as reader:
        start, got, size = time.perf_counter(), 0, 0
        async for records in reader.batches(max_records):  # up to the ends, as the replay
            got += len(records)
            size += sum(len(r.value or b"") for r in records)
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "msgs_per_s": got / seconds,
        "mb_per_s": size / seconds / 1e6,
        "topic_mb": size / 1e6,
    }


def raw(settings: Settings, collect: bool) -> dict[str, Any]:
    """``raw_consume`` with its CPU time, with or without cyclic garbage collection (the
    replay turns it off: see ``ops.replay._without_gc``)."""
    cpu = _cpu_seconds()
    if not collect:
        gc.disable()
    try:
        run = asyncio.run(raw_consume(settings))
    finally:
        gc.enable()
    return run | {"cpu_seconds": _cpu_seconds() - cpu, "gc": collect}


def replay(
    settings: Settings, store_dir: Path, workers: int | None, profile: Path | None
) -> dict[str, Any]:
    """The full replay into a fresh SQLite stats store: seconds, events/s, CPU seconds
    (of this process and of the reading processes it started)."""
    store_dir.mkdir()
    app = StatsApplication(store_env(None, str(store_dir), "stats"))
    profiler = cProfile.Profile()
    if profile:
        profiler.enable()
    cpu = _cpu_seconds()
    replayed = asyncio.run(replay_stats(settings, app, workers=workers))
    cpu = _cpu_seconds() - cpu
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
    return {
        "workers": replayed.workers,
        "seconds": replayed.seconds,
        "events_per_s": replayed.events_per_second,
        "cpu_seconds": cpu,
        "read_seconds": replayed.read_seconds,
        "write_seconds": replayed.write_seconds,
        "events": replayed.events,
        "applied": replayed.applied,
        "dossiers": replayed.dossiers,
    }


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the reading processes)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def setup(settings: Settings, events: int, seed: int) -> dict[str, float]:
    """Create the topic and publish the synthetic year; how long each part took."""
    asyncio.run(ensure_topics(settings, [settings.dossier_topic]))
    start = time.perf_counter()
    sent = asyncio.run(produce(settings, year_of_messages(events, seed, settings.topic_partitions)))
    return {"events": sent, "generate_and_produce_seconds": time.perf_counter() - start}


def print_results(console: Console, results: dict[str, Any]) -> None:
    target = TARGET_SECONDS * results["events"] / 1_000_000
    table = Table(title=f"replay stats: {results['events']:,} events (target < {target:g} s)")
    for column in ("", "seconds", "msgs/s", "MB/s", "CPU s"):
        table.add_column(column, justify="right" if column else "left")
    for run in results["raw_consume"]:
        table.add_row(
            f"raw aiokafka consume{'' if run['gc'] else ', no GC'}",
            f"{run['seconds']:.2f}",
            f"{run['msgs_per_s']:,.0f}",
            f"{run['mb_per_s']:.1f}",
            f"{run['cpu_seconds']:.2f}",
        )
    for run in results["replays"]:
        style = "green" if run["seconds"] < target else "red"
        table.add_row(
            f"motcua replay stats, {run['workers']} process(es)",
            f"[{style}]{run['seconds']:.2f}[/]",
            f"{run['events_per_s']:,.0f}",
            f"{results['topic_mb'] / run['seconds']:.1f}",
            f"{run['cpu_seconds']:.2f}",
        )
    console.print(table)
    last = results["replays"][-1]
    console.print(
        f"{last['dossiers']:,} dossiers, {last['applied']:,} events applied; reading "
        f"{last['read_seconds']:.2f} s, writing and swapping {last['write_seconds']:.2f} s"
    )


def print_profile(console: Console, path: Path) -> None:
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(15)
    console.print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile the replay")
    args = parser.parse_args()
    configure_logging("WARNING")
    console = Console()
    work = Path(tempfile.mkdtemp(prefix="motcua-bench-replay-"))
    broker = start_broker(work)
    profile = RESULTS / "replay.prof" if args.profile else None
    try:
        settings = Settings(
            kafka_bootstrap_servers=broker.bootstrap,
            dossier_topic=f"bench-{uuid.uuid4().hex[:8]}",
            log_level="WARNING",
        )
        # Plain lines, no spinner: a spinner's thread would make the replay spawn its
        # reading processes instead of forking them (see ``ops.replay._context``).
        console.print(f"generating and publishing {args.events:,} events…")
        results: dict[str, Any] = setup(settings, args.events, args.seed)
        console.print("raw consume…")
        results["raw_consume"] = [raw(settings, collect) for collect in (True, False)]
        results["topic_mb"] = results["raw_consume"][0]["topic_mb"]
        results["replays"] = []
        for workers in (1, None):  # one process, then the default (one per CPU)
            console.print(f"replaying ({workers or 'default'} process(es))…")
            # Profiled in one process: cProfile does not follow child processes.
            run = replay(settings, work / f"stats-{workers}", workers, profile if workers else None)
            results["replays"].append(run)
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["target_seconds_per_million"] = TARGET_SECONDS
    print_results(console, results)
    if profile:
        print_profile(console, profile)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "replay.json"
    out.write_text(json.dumps(results, indent=2))
    console.print(f"saved {out}")


if __name__ == "__main__":
    main()
