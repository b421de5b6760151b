"""Benchmark of catching up: each consuming service, started on an empty store, applies a
topic that already holds 100,000 events, beside aiokafka alone reading the same topic.

What a service finds when it comes back after being down: the other services went on
publishing, it did not. So for each service in turn a fresh topic is filled with the
realistic lifecycles of ``bench/history.py`` minus the service's own events, keyed by
dossier id with the ``producer``, ``position`` and ``type`` headers the relays set. Then

* **raw**: aiokafka alone reads the whole topic with the services' consumer settings
  (aiokafka's default fetch sizes, 500 records a ``getmany``), nothing done per
  message but reading its value: the ceiling of any consumer on this broker;
* **service**: ``python -m ops.serve <name>``, as in production, on an empty SQLite
  store in a directory of its own, in a fresh consumer group, with its outside world
  local (the SMTP/SMS sinks, the payment gateway simulator). It runs as it would: its
  relay publishes what it decides (workflow's steps, payment's bills, notify's
  notices) and notify delivers to the sinks while its consumer reads on. The bench
  polls the store's ``consumer_offsets`` (read-only, the positions the service resumes
  from) until they reach the topic's end offsets of before the start.

Per service: events/s from the process's start (Python's start, the group join and the
first fetch included) and from its first applied batch; CPU µs per event of the service
(utime + stime from /proc, ``bench.cpu``) and of the broker over the same time; peak
RSS; how many of the events it handles (decodes and applies) rather than only tracks.
The target is 10,000 events/s per service. Figures, not assertions: a shared machine
moves the rates, the CPU per event holds better. Prints a table and writes
``bench/results/catchup.json``.

    .venv/bin/python -m bench.catchup --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import io
import json
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import httpx
from rich.console import Console
from rich.table import Table

from bench.cpu import machine_cpu, ms, process_cpu
from bench.history import Message, year_of_messages
from bench.pipeline import peak_rss_mb
from bench.replay import produce, raw_consume
from devtools.processes import (
    ROOT,
    LocalBroker,
    free_port,
    service_env,
    start_broker,
    wait_for_port,
)
from motcua.core.logging import configure_logging
from motcua.runtime.handlers import Handlers
from motcua.runtime.kafka import ensure_topics
from motcua.runtime.settings import Settings
from motcua.runtime.topic_reader import open_topic

RESULTS = Path(__file__).parent / "results" / "catchup.json"
TARGET_EVENTS_PER_S = 10_000
CONSUMERS = ("workflow", "payment", "notify", "stats", "intake", "interagency")
SERVICE_MAX_RECORDS = 500  # TrackedConsumer's default: what the services fetch at a time
POLL_SECONDS = 0.1


# -- what each service acts on ----------------------------------------------------------


def handlers_of(name: str, settings: Settings) -> Handlers:
    """The service's registry of consumed events, built as its composition root builds
    it (in a throw-away store): which of the topic's records it decodes and applies."""
    from services.intake.main import build_application as intake
    from services.interagency.main import build_application as interagency
    from services.notify.main import build_application as notify
    from services.notify.settings import NotifySettings
    from services.payment.main import build_application as payment
    from services.payment.settings import PaymentSettings
    from services.stats.main import build_application as stats
    from services.workflow.main import build_application as workflow

    if name == "intake":
        return intake(settings).progress.handlers()
    if name == "interagency":
        return interagency(settings).handlers()
    if name == "notify":
        return notify(settings, NotifySettings()).handlers()
    if name == "payment":
        return payment(settings, PaymentSettings()).handlers()
    if name == "stats":
        return stats(settings).handlers()
    return workflow(settings).handlers()


# -- the topic --------------------------------------------------------------------------


def fill(settings: Settings, events: int, seed: int, left_out: str) -> list[Message]:
    """A fresh topic with ``events`` messages of the lifecycles without ``left_out``'s
    own events; the messages (their types are counted afterwards)."""
    messages = list(year_of_messages(events, seed, settings.topic_partitions, {left_out}))
    asyncio.run(ensure_topics(settings, [settings.dossier_topic]))
    asyncio.run(produce(settings, messages))
    return messages


async def end_offsets(settings: Settings) -> dict[int, int]:
    """Each partition's next offset after its last message, found by reading the topic:
    the embedded broker's ListOffsets answers an offset inside the last batch (the
    topic reader still reads to the true end, as it takes batches whole)."""
    async with open_topic(settings, settings.dossier_topic) as reader:
        async for _ in reader.batches():
            pass
        return {tp.partition: offset for tp, offset in reader.positions.items()}


# -- the service's progress, from its store ---------------------------------------------


def stored_offsets(db: Path, consumer: str, topic: str) -> dict[int, int]:
    """The next offset per partition the service has applied up to, read-only from its
    SQLite store; empty while the store or its positions table does not exist yet."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute(
                "SELECT part, next_offset FROM consumer_offsets WHERE consumer = ? AND topic = ?",
                (consumer, topic),
            ).fetchall()
    except sqlite3.OperationalError:  # no table yet, or the file is being created
        return {}
    return {int(part): int(offset) for part, offset in rows}


def remaining(applied: Mapping[int, int], ends: Mapping[int, int]) -> int:
    """Records of the filled topic not applied yet (what the service appends later, past
    the ends, is not part of the catch-up)."""
    return sum(max(0, end - applied.get(part, 0)) for part, end in ends.items())


def rates(events: int, started: float, first: float, done: float) -> dict[str, float]:
    """Events/s from the process's start and from its first applied batch."""
    return {
        "seconds": done - started,
        "seconds_to_first_batch": first - started,
        "events_per_s": events / (done - started),
        "events_per_s_applying": events / (done - first) if done > first else float("nan"),
    }


def metric_total(text: str, name: str) -> float:
    """The sum of a Prometheus metric's samples (all label sets) in an exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


# -- the outside world ------------------------------------------------------------------


@dataclass
class Outside:
    """The SMTP/SMS sinks and the payment gateway simulator, and how services reach them."""

    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(10)


def start_outside(work: Path, broker: LocalBroker) -> Outside:
    smtp, sinks, gateway = free_port(), free_port(), free_port()
    env = {
        "MOTCUA_SMTP_HOST": "127.0.0.1",
        "MOTCUA_SMTP_PORT": str(smtp),
        "MOTCUA_SINKS_PORT": str(sinks),
        "MOTCUA_SMS_URL": f"http://127.0.0.1:{sinks}/sms",
        "MOTCUA_GATEWAY_SIM_PORT": str(gateway),
        "MOTCUA_PAYMENT_GATEWAY_URL": f"http://127.0.0.1:{gateway}",
    }
    base = (
        service_env(
            bootstrap=broker.bootstrap, var_dir=work / "outside", database_url=None, topic="outside"
        )
        | env
    )
    processes = []
    for module, port in (("devtools.sinks", sinks), ("devtools.gateway_simulator", gateway)):
        log = (work / f"{module}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", module], env=base, stdout=log, stderr=log, cwd=ROOT
            )
        )
        wait_for_port(port)
    return Outside(env, processes)


# -- one service ------------------------------------------------------------------------


def catch_up(
    name: str, settings: Settings, broker: LocalBroker, outside: Outside, work: Path, timeout: float
) -> dict[str, Any]:
    """Start the service on an empty store and wait until it has applied the topic."""
    topic = settings.dossier_topic
    ends = asyncio.run(end_offsets(settings))
    events = sum(ends.values())
    var_dir = work / name
    port = free_port()
    env = service_env(
        bootstrap=broker.bootstrap, var_dir=var_dir, database_url=None, topic=topic, **{name: port}
    )
    env.pop("MOTCUA_RELAY_IDLE_SECONDS")  # production's relay pace, not the tests' quicker one
    env |= outside.env
    log = (work / f"{name}.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "ops.serve", name], env=env, stdout=log, stderr=log, cwd=ROOT
    )
    broker_before, machine_before = process_cpu(broker.process.pid), machine_cpu()
    first = first_cpu = None
    try:
        deadline = started + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: see {work / f'{name}.log'}")
            applied = stored_offsets(var_dir / f"{name}.db", name, topic)
            left = remaining(applied, ends)
            now = time.perf_counter()
            if first is None and left < events:
                first, first_cpu = now, process_cpu(process.pid)
            if left == 0:
                break
            if now > deadline:
                raise TimeoutError(f"{name}: {left:,} of {events:,} events left after {timeout}s")
            time.sleep(POLL_SECONDS)
        done = now
        cpu, broker_after = process_cpu(process.pid), process_cpu(broker.process.pid)
        machine_after = machine_cpu()
        rss = peak_rss_mb(process.pid)
        exposition = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
    assert first is not None
    assert first_cpu is not None
    assert cpu is not None
    assert broker_before is not None
    assert broker_after is not None
    return {
        "service": name,
        "events": events,
        **rates(events, started, first, done),
        "cpu_us_per_event": ms(cpu.ticks) * 1000 / events,
        "cpu_us_per_event_applying": ms(cpu.ticks - first_cpu.ticks) * 1000 / events,
        "cores": ms(cpu.ticks) / 1000 / (done - started),
        "broker_cpu_us_per_event": ms(broker_after.ticks - broker_before.ticks) * 1000 / events,
        # Busy share of the whole machine meanwhile: on a shared machine, the others' too.
        "machine_busy_share": (machine_after.busy - machine_before.busy)
        / max(1, machine_after.total - machine_before.total),
        "peak_rss_mb": round(rss, 1),
        "published": metric_total(exposition, "motcua_relay_published_total"),
        "notices": metric_total(exposition, "motcua_notices_total"),
        "dead_lettered": metric_total(exposition, "motcua_consumer_dead_lettered_total"),
    }


def run_one(
    console: Console,
    name: str,
    base: Settings,
    broker: LocalBroker,
    outside: Outside,
    work: Path,
    events: int,
    seed: int,
) -> dict[str, Any]:
    settings = base.model_copy(update={"dossier_topic": f"catchup-{name}-{uuid.uuid4().hex[:8]}"})
    with console.status(f"{name}: filling a topic with {events:,} events…"):
        messages = fill(settings, events, seed, left_out=name)
    types = Counter(m.type for m in messages)
    handled_types = handlers_of(name, base.model_copy(update={"var_dir": work / "handlers"})).types
    with console.status(f"{name}: raw aiokafka consume…"):
        raw = asyncio.run(raw_consume(settings, SERVICE_MAX_RECORDS, fetch={}))
    with console.status(f"{name}: catching up…"):
        result = catch_up(name, settings, broker, outside, work, timeout=max(180.0, events / 200))
    result |= {
        "handled": sum(n for kind, n in types.items() if kind in handled_types),
        "handled_types": sorted(handled_types & types.keys()),
        "raw_msgs_per_s": raw["msgs_per_s"],
        "raw_mb_per_s": raw["mb_per_s"],
        "topic_mb": raw["topic_mb"],
    }
    console.print(
        f"{name}: {result['events_per_s']:,.0f} events/s "
        f"({result['cpu_us_per_event']:.0f} µs CPU/event); raw {raw['msgs_per_s']:,.0f} msgs/s"
    )
    return result


# -- where the time goes ----------------------------------------------------------------

T = TypeVar("T")


async def _inline(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``asyncio.to_thread`` run in the loop's own thread, for cProfile to see it."""
    return function(*args, **kwargs)


def profile(
    name: str, settings: Settings, outside: Outside, work: Path, out: Path, timeout: float
) -> dict[str, Any]:
    """The service's workers (as its composition root builds them) in this process under
    cProfile until its consumer has applied the topic. Everything ``asyncio.to_thread``
    would run elsewhere runs inline, so the profile covers the store's work too; the
    figures are the profile's, not the benchmark's (cProfile slows Python code down)."""
    ends = asyncio.run(end_offsets(settings))
    var_dir = work / f"{name}-profiled"
    service = settings.model_copy(
        update={"var_dir": var_dir, "consumer_group_prefix": f"{var_dir.name}-"}
    )

    async def until_caught_up() -> float:
        app = importlib.import_module(f"services.{name}.main").create_app(service)
        started = time.perf_counter()
        async with app.router.lifespan_context(app):
            while remaining(
                stored_offsets(var_dir / f"{name}.db", name, service.dossier_topic), ends
            ):
                if time.perf_counter() - started > timeout:
                    raise TimeoutError(f"{name} (profiled) did not catch up in {timeout}s")
                await asyncio.sleep(POLL_SECONDS)
        return time.perf_counter() - started

    with mock.patch.dict("os.environ", outside.env), mock.patch("asyncio.to_thread", _inline):
        profiler = cProfile.Profile()
        profiler.enable()
        seconds = asyncio.run(until_caught_up())
        profiler.disable()
    profiler.dump_stats(out)
    return {"service": name, "seconds": seconds, "events": sum(ends.values()), "file": str(out)}


def print_profile(console: Console, path: Path, lines: int = 30) -> None:
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(str(path), stream=text).sort_stats(order).print_stats(lines)
        console.print(text.getvalue())


def print_results(console: Console, results: dict[str, Any]) -> None:
    table = Table(
        title=f"catch-up: {results['events']:,} events on the topic, each service on an empty "
        f"store (target ≥ {TARGET_EVENTS_PER_S:,} events/s)",
        caption="events/s and CPU from the process's start (Python's start, the group join "
        "included); 'applying': from its first applied batch. CPU: utime + stime from /proc, "
        "per event of the topic. Machine busy: all processes', of all CPUs.",
    )
    columns = (
        "service",
        "handled",
        "seconds",
        "events/s",
        "applying",
        "CPU µs/event",
        "applying",
        "cores",
        "machine busy",
        "broker µs/event",
        "peak RSS MB",
        "published",
        "raw aiokafka msgs/s",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "service" else "right")
    for r in results["services"]:
        style = "green" if r["events_per_s"] >= TARGET_EVENTS_PER_S else "red"
        table.add_row(
            r["service"],
            f"{r['handled'] / r['events']:.0%}",
            f"{r['seconds']:.1f}",
            f"[{style}]{r['events_per_s']:,.0f}[/]",
            f"{r['events_per_s_applying']:,.0f}",
            f"{r['cpu_us_per_event']:.0f}",
            f"{r['cpu_us_per_event_applying']:.0f}",
            f"{r['cores']:.2f}",
            f"{r['machine_busy_share']:.0%}",
            f"{r['broker_cpu_us_per_event']:.0f}",
            f"{r['peak_rss_mb']:.0f}",
            f"{r['published']:,.0f}",
            f"{r['raw_msgs_per_s']:,.0f}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--services", nargs="+", choices=CONSUMERS, default=list(CONSUMERS))
    parser.add_argument(
        "--profile",
        choices=CONSUMERS,
        help="then also cProfile this service catching up in-process "
        "(bench/results/catchup-<service>.prof)",
    )
    args = parser.parse_args()
    configure_logging("WARNING")
    console = Console(width=max(120, shutil.get_terminal_size().columns))  # thirteen columns
    work = Path(tempfile.mkdtemp(prefix="motcua-bench-catchup-"))
    broker = start_broker(work)
    outside = start_outside(work, broker)
    results: dict[str, Any] = {"events": args.events, "target_events_per_s": TARGET_EVENTS_PER_S}
    RESULTS.parent.mkdir(exist_ok=True)
    try:
        settings = Settings(kafka_bootstrap_servers=broker.bootstrap, log_level="WARNING")
        results["services"] = [
            run_one(console, name, settings, broker, outside, work, args.events, args.seed)
            for name in args.services
        ]
        print_results(console, results)
        RESULTS.write_text(json.dumps(results, indent=2))  # before the (long) profile
        console.print(f"saved {RESULTS}")
        if args.profile:
            topic = f"catchup-profile-{uuid.uuid4().hex[:8]}"
            profiled = settings.model_copy(update={"dossier_topic": topic})
            fill(profiled, args.events, args.seed, left_out=args.profile)
            out = RESULTS.parent / f"catchup-{args.profile}.prof"
            results["profile"] = profile(args.profile, profiled, outside, work, out, 3600.0)
            RESULTS.write_text(json.dumps(results, indent=2))
            print_profile(console, out)
    finally:
        outside.stop()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
