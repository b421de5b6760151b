"""Benchmark of the whole pipeline on the embedded stack, beside the raw broker.

The stack (broker, the services of the registry, the SMTP/SMS sinks and the simulators)
runs as separate processes in a directory of its own, as ``motcua up`` runs them. The
load driver of the chaos suite plays applicants, officers and the gateway's browser
over HTTP; every dossier runs its full lifecycle (submission, acceptance, a one- or
three-agency process, online payment for the land transfer, result, notices, stats).

Phases: a warm-up; **paced**, dossiers offered at ``--rate`` per second (latencies of a
normal day); **flat out**, ``--dossiers`` with ``--concurrency`` in flight (capacity).
Then the raw baseline: aiokafka alone producing and consuming as many messages, of the
pipeline events' mean size, on the same broker.

For both phases, the CPU each process spent per dossier (``bench.cpu``: utime + stime
from /proc, over the phase, divided by the dossiers of the phase): every service,
the broker, the sinks, the gateway simulator and this process (the load driver, which
also polls stats for the end of the phase), and the whole machine's busy time beside
them. On a shared machine these hold better from run to run than the throughput.

Prints two tables and writes ``bench/results/pipeline.json``. Figures, not assertions.
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

from bench.cpu import Snapshot, per_dossier, snapshot
from bench.intake import percentile, raw_broker
from devtools.load import Driver, Trace, Urls
from devtools.load_checks import all_notices, read_events
from motcua.runtime.settings import Settings
from ops.stack import Stack, running_supervisor
from services.registry import NAMES as IMPLEMENTED_SERVICES

RESULTS = Path(__file__).parent / "results" / "pipeline.json"
DRIVER = "load driver"  # this process: the driver, and the polling of stats
OTHERS = ("broker", "sinks", "gateway-sim", "portal-sim", "postal-sim", DRIVER)  # not services


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


def requests_per_dossier(settings: Settings, driver: Driver) -> dict[str, float]:
    """The driver's HTTP requests per dossier (tries included), by the service asked:
    what the services' CPU per dossier was spent answering."""
    names = {f"{settings.host}:{settings.port_of(n)}": n for n in IMPLEMENTED_SERVICES}
    counts: dict[str, int] = {}
    for trace in driver.traces:
        for origin, sent in trace.requests.items():
            name = names.get(origin, "gateway simulator")
            counts[name] = counts.get(name, 0) + sent
    dossiers = len(driver.traces)
    shares = {name: round(sent / dossiers, 1) for name, sent in sorted(counts.items())}
    return shares | {"all": round(sum(counts.values()) / dossiers, 1)}


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


def cpu_now(stack: Stack) -> Snapshot:
    """The CPU counters of every child of the stack, of this process and of the machine.

    The pids are read afresh each time: a child restarted by the supervisor has a new
    one, which ``per_dossier`` reports as not measured instead of a wrong figure."""
    pids: dict[str, int | None] = {
        c.name: c.process.pid if c.process is not None else None for c in stack.children
    }
    return snapshot(pids | {DRIVER: os.getpid()})


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
    settings = Settings(var_dir=var)  # the stack hands it to its children (Stack.env)
    stack = Stack(settings)
    results: dict[str, Any] = {"dossiers": dossiers, "concurrency": concurrency}
    stack.start()
    try:
        stack.wait_ready(timeout=120)
        with console.status("warm-up: 20 dossiers…"):
            asyncio.run(drive(settings, 20, 20, None))
            wait_counted(settings, 20)
        with console.status(f"paced: {paced} dossiers offered at {rate:g}/s…"):
            before, start = cpu_now(stack), time.perf_counter()
            slow = asyncio.run(drive(settings, paced, 10_000, rate))
            wait_counted(settings, 20 + paced)
            paced_cpu = per_dossier(
                before, cpu_now(stack), paced, time.perf_counter() - start, stack.services
            )
        submit_ms = [t.submit_seconds * 1000 for t in slow.traces]
        notices = notice_seconds(settings, slow, slow.traces)
        results |= {
            "paced_rate_per_s": rate,
            "submit_to_receipt_p50_ms": percentile(submit_ms, 50),
            "submit_to_receipt_p99_ms": percentile(submit_ms, 99),
            "received_to_notice_p50_s": percentile(notices, 50),
            "received_to_notice_p99_s": percentile(notices, 99),
            "paced_cpu": paced_cpu,
            "paced_http_requests_per_dossier": requests_per_dossier(settings, slow),
        }
        with console.status(f"flat out: {dossiers} dossiers, {concurrency} in flight…"):
            before, start = cpu_now(stack), time.perf_counter()
            fast = asyncio.run(drive(settings, dossiers, concurrency, None))
            workflow_done = time.perf_counter() - start
            wait_counted(settings, 20 + paced + dossiers)
            elapsed = time.perf_counter() - start
            flat_cpu = per_dossier(before, cpu_now(stack), dossiers, elapsed, stack.services)
        ours = {t.dossier_id for t in fast.traces}
        events = [
            e for e in asyncio.run(read_events(settings, settings.dossier_topic)) if e.key in ours
        ]
        unique = {e.event_id: e for e in events}
        results |= {
            "dossiers_per_s": dossiers / elapsed,
            "seconds": elapsed,
            "seconds_until_last_result_returned": workflow_done,
            "events_per_dossier": len(unique) / dossiers,
            "events_per_s": len(unique) / elapsed,
            "http_requests_retried": sum(t.retries for t in fast.traces),
            "http_requests_per_dossier": requests_per_dossier(settings, fast),
            "event_bytes": round(statistics.mean(e.size for e in unique.values())),
            "flat_out_cpu": flat_cpu,
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


CPU_PHASES = ("paced_cpu", "flat_out_cpu")


def print_results(console: Console, results: dict[str, Any]) -> None:
    table = Table(title=f"Full pipeline on the embedded stack ({results['dossiers']} dossiers)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in results.items():
        if key in CPU_PHASES:
            continue
        if isinstance(value, dict):
            for name, mb in value.items():
                table.add_row(f"{key} {name}", f"{mb:,.1f}")
        else:
            table.add_row(key, _shown(value))
    console.print(table)
    print_cpu(console, results)


def print_cpu(console: Console, results: dict[str, Any]) -> None:
    """CPU ms per dossier for each process, in both phases, beside the whole machine."""
    paced, flat = results["paced_cpu"], results["flat_out_cpu"]
    table = Table(
        title="CPU ms per dossier (utime + stime from /proc, over each phase)",
        caption="cores: CPU seconds per second of the flat-out phase",
    )
    table.add_column("process")
    table.add_column(f"paced {results['paced_rate_per_s']:g}/s", justify="right")
    table.add_column("flat out", justify="right")
    table.add_column("cores", justify="right")

    def row(name: str, label: str | None = None) -> None:
        cells = [_ms(phase["cpu_ms_per_dossier"].get(name)) for phase in (paced, flat)]
        cores = flat["cores"].get(name)
        table.add_row(label or name, *cells, "—" if cores is None else f"{cores:.2f}")

    for name in IMPLEMENTED_SERVICES:
        row(name)
    table.add_row(
        f"{len(IMPLEMENTED_SERVICES)} services",
        *(_total(p, "services_total") for p in (paced, flat)),
        f"{sum(flat['cores'].get(s, 0.0) for s in IMPLEMENTED_SERVICES):.2f}",
        style="bold",
        end_section=True,
    )
    for name in OTHERS:
        row(name, f"{name} (this process)" if name == DRIVER else None)
    table.add_row(
        "all listed",
        *(_total(p, "listed_total") for p in (paced, flat)),
        f"{sum(flat['cores'].values()):.2f}",
        style="bold",
        end_section=True,
    )
    machines = [p["machine"] for p in (paced, flat)]
    cpus = machines[1]["cpus"]
    table.add_row(
        f"whole machine, busy ({cpus} CPUs)",
        *(_ms(m["busy_ms_per_dossier"]) for m in machines),
        f"{machines[1]['busy_cores']:.2f}",
    )
    table.add_row(
        "  of it, the listed processes", *(_share(m["listed_share_of_busy"]) for m in machines), ""
    )
    table.add_row("  machine busy ÷ its capacity", *(_share(m["busy_share"]) for m in machines), "")
    table.add_row(
        "  stolen by the hypervisor", *(_ms(m["steal_ms_per_dossier"]) for m in machines), ""
    )
    console.print(table)
    for label, phase in (("paced", paced), ("flat out", flat)):
        for name, why in phase["not_measured"].items():
            console.print(f"[yellow]{label}: {name} not measured: {why}[/yellow]")
        for name, forked in phase.get("children_cpu_ms_per_dossier", {}).items():
            console.print(
                f"[yellow]{label}: {name}'s exited children used {forked:.1f} ms/dossier "
                "(not in the table)[/yellow]"
            )


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _total(phase: dict[str, Any], key: str) -> str:
    """A total, marked when a process in it could not be measured (it is then low)."""
    shown = _ms(phase[f"{key}_ms_per_dossier"])
    return shown if phase[f"{key}_complete"] else f"≥ {shown}"


def _shown(value: Any) -> str:
    if not isinstance(value, float):
        return str(value)
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=10.0, help="paced phase: dossiers/s")
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
