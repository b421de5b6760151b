"""Benchmark of the whole pipeline on the embedded stack, beside the raw broker.

The stack (broker, the six services, the SMTP/SMS sinks and the gateway simulator)
runs as separate processes in a directory of its own, as ``motcua up`` runs them. The
load driver of the chaos suite plays applicants, officers and the gateway's browser
over HTTP; every dossier runs its full lifecycle (submission, acceptance, a one- or
three-agency process, online payment for the land transfer, result, notices, stats).

Phases: a warm-up; **paced**, dossiers offered at ``--rate`` per second (latencies of a
normal day); **flat out**, ``--dossiers`` with ``--concurrency`` in flight (capacity).
Then the raw baseline: aiokafka alone producing and consuming as many messages, of the
pipeline events' mean size, on the same broker.

Prints a table and writes ``bench/results/pipeline.json``. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.intake import percentile, raw_broker
from motcua.load import Driver, Trace, Urls
from motcua.load_checks import all_notices, read_events
from motcua.settings import Settings
from motcua.stack import IMPLEMENTED_SERVICES, Stack, running_supervisor

RESULTS = Path(__file__).parent / "results" / "pipeline.json"


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), from Linux's /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def drive(settings: Settings, count: int, concurrency: int, rate: float | None) -> Driver:
    urls = Urls.local(settings.host, settings.port_of)
    async with Driver(urls, settings.jwt_secret.get_secret_value()) as driver:
        await driver.run(count, concurrency=concurrency, rate=rate)
    return driver


def wait_counted(settings: Settings, resolved: int, timeout: float = 600.0) -> None:
    """Until stats counts ``resolved`` dossiers as resolved (its consumer caught up)."""
    url = f"http://{settings.host}:{settings.stats_port}/v1/stats/ytd"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        totals = httpx.get(url, timeout=30).json()["totals"]
        done = sum(totals[k] for k in ("resolved_early", "resolved_on_time", "resolved_late"))
        if done >= resolved:
            return
        time.sleep(0.2)
    raise TimeoutError(f"stats did not count {resolved} resolved dossiers in {timeout:.0f}s")


def notice_seconds(settings: Settings, driver: Driver, traces: list[Trace]) -> list[float]:
    """Received → the 'received' notice delivered, per notice (e-mail, SMS, inbox)."""
    received_at = {t.dossier_id: t.received_at for t in traces}
    with httpx.Client(timeout=30) as http:
        notify = f"http://{settings.host}:{settings.notify_port}"
        rows = all_notices(http, notify, driver.admin())
    return [
        datetime.fromisoformat(r["updated_at"]).timestamp() - received_at[r["dossier_id"]]
        for r in rows
        if r["dossier_id"] in received_at and r["kind"] == "received" and r["status"] == "delivered"
    ]


def run(
    console: Console, dossiers: int, concurrency: int, rate: float, paced: int
) -> dict[str, Any]:
    var = Path(tempfile.mkdtemp(prefix="motcua-bench-pipeline-"))
    os.environ["MOTCUA_VAR_DIR"] = str(var)
    settings = Settings()
    stack = Stack(settings)
    results: dict[str, Any] = {"dossiers": dossiers, "concurrency": concurrency}
    stack.start()
    try:
        stack.wait_ready(timeout=120)
        with console.status("warm-up: 20 dossiers…"):
            asyncio.run(drive(settings, 20, 20, None))
            wait_counted(settings, 20)
        with console.status(f"paced: {paced} dossiers offered at {rate:g}/s…"):
            slow = asyncio.run(drive(settings, paced, 10_000, rate))
            wait_counted(settings, 20 + paced)
        submit_ms = [t.submit_seconds * 1000 for t in slow.traces]
        notices = notice_seconds(settings, slow, slow.traces)
        results |= {
            "paced_rate_per_s": rate,
            "submit_to_receipt_p50_ms": percentile(submit_ms, 50),
            "submit_to_receipt_p99_ms": percentile(submit_ms, 99),
            "received_to_notice_p50_s": percentile(notices, 50),
            "received_to_notice_p99_s": percentile(notices, 99),
        }
        with console.status(f"flat out: {dossiers} dossiers, {concurrency} in flight…"):
            start = time.perf_counter()
            fast = asyncio.run(drive(settings, dossiers, concurrency, None))
            workflow_done = time.perf_counter() - start
            wait_counted(settings, 20 + paced + dossiers)
            elapsed = time.perf_counter() - start
        ours = {t.dossier_id for t in fast.traces}
        events = [
            e
            for e in asyncio.run(read_events(settings.bootstrap_servers, settings.dossier_topic))
            if e.key in ours
        ]
        unique = {e.event_id: e for e in events}
        results |= {
            "dossiers_per_s": dossiers / elapsed,
            "seconds": elapsed,
            "seconds_until_last_result_returned": workflow_done,
            "events_per_dossier": len(unique) / dossiers,
            "events_per_s": len(unique) / elapsed,
            "http_requests_retried": sum(t.retries for t in fast.traces),
            "event_bytes": round(statistics.mean(e.size for e in unique.values())),
        }
        results["peak_rss_mb"] = {
            c.name: round(peak_rss_mb(c.process.pid), 1)
            for c in stack.children
            if c.name in IMPLEMENTED_SERVICES and c.process is not None and c.alive()
        }
        with console.status("raw broker baseline…"):
            raw = asyncio.run(raw_broker(settings, len(unique), results["event_bytes"]))
        results |= raw
        results["pipeline_to_raw_ratio"] = results["events_per_s"] / raw["raw_produce_per_s"]
    finally:
        stack.stop()
    return results


def print_results(console: Console, results: dict[str, Any]) -> None:
    table = Table(title=f"Full pipeline on the embedded stack ({results['dossiers']} dossiers)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in results.items():
        if isinstance(value, dict):
            for name, mb in value.items():
                table.add_row(f"{key} {name}", f"{mb:,.1f}")
        else:
            table.add_row(key, _shown(value))
    console.print(table)


def _shown(value: Any) -> str:
    if not isinstance(value, float):
        return str(value)
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=50.0, help="paced phase: dossiers/s")
    parser.add_argument("--paced", type=int, default=500, help="paced phase: dossiers")
    args = parser.parse_args()
    console = Console()
    if running_supervisor(Settings()) is not None:
        raise SystemExit("a stack is running (motcua up): stop it first (motcua down)")
    results = run(console, args.dossiers, args.concurrency, args.rate, args.paced)
    print_results(console, results)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    console.print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
