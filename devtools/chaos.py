"""``make chaos`` (``python -m devtools chaos``): the full lifecycle under crashes, then the checks.

The embedded stack runs in a directory of its own. While the load driver pushes
dossiers through intake, the multi-agency workflow, online payment, notices and
statistics, a monkey kills a random service with SIGKILL every few seconds, choosing
among the least-killed, for as long as the load runs and until each was killed at least
``kills_each`` times (more often than every ``HEALTHY_SECONDS`` per service, the
supervisor would treat it as a crash loop and restart it ever later), and once,
halfway, kills the broker: the embedded broker keeps messages in memory only, so the
supervisor starts it again and republishes every stored event, as an operator would
after losing a cluster. The supervisor restarts what died, as in production.

At the end ``devtools.load_checks`` verifies final states, payments, notices,
statistics and the national portal's records (its simulator, which the monkey leaves
alone: it stands for a system outside) against the driver's ground truth. Exit code 0
only when all hold.
"""

from __future__ import annotations

import asyncio
import random
import signal
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from devtools.load import Driver, Stuck, Trace, Urls
from devtools.load_checks import Endpoints, Verdict, verify
from motcua.runtime.settings import Settings
from ops.stack import Child, Stack
from services.registry import NAMES as IMPLEMENTED_SERVICES


@dataclass
class Monkey:
    """Kills services (and the broker once) from the supervisor's thread."""

    stack: Stack
    every: float
    kills_each: int
    rng: random.Random
    kills: Counter[str] = field(default_factory=Counter)
    during_load: Counter[str] = field(default_factory=Counter)
    broker_due: bool = False  # set halfway through the load
    broker_killed: bool = False
    loading: bool = True
    log: list[str] = field(default_factory=list)

    def busy(self) -> bool:
        """Whether to go on striking: for as long as the load runs, then until done."""
        return self.loading or not self.done()

    def done(self) -> bool:
        return self.broker_killed and all(
            self.kills[name] >= self.kills_each for name in IMPLEMENTED_SERVICES
        )

    def strike(self) -> None:
        """The broker when it is due; else a live service among the least killed: any
        while the load runs, afterwards only until each has had its share (past the
        load, more kills would only keep the stack from settling)."""
        if self.broker_due and (broker := self.child("broker")) is not None and broker.alive():
            self.kill(broker)
            self.broker_due, self.broker_killed = False, True
            return
        alive = [
            c
            for c in self.stack.children
            if c.name in IMPLEMENTED_SERVICES
            and c.alive()
            and (self.loading or self.kills[c.name] < self.kills_each)
        ]
        if not alive:
            return
        fewest = min(self.kills[c.name] for c in alive)
        self.kill(self.rng.choice([c for c in alive if self.kills[c.name] == fewest]))

    def kill(self, child: Child) -> None:
        assert child.process is not None
        child.process.send_signal(signal.SIGKILL)
        # Reaped before going on: until then it still looks alive, and the next strike
        # could kill it again while the supervisor has not yet seen it die.
        child.process.wait(10)
        self.kills[child.name] += 1
        if self.loading:
            self.during_load[child.name] += 1
        self.log.append(f"{time.strftime('%H:%M:%S')} kill -9 {child.name}")

    def child(self, name: str) -> Child | None:
        return next((c for c in self.stack.children if c.name == name), None)


def supervise(stack: Stack, monkey: Monkey, stop: threading.Event) -> None:
    """The supervisor's loop with the monkey in it (one thread: no race on children)."""
    next_strike = time.monotonic() + monkey.every
    while not stop.is_set():
        stack.supervise_once()
        if time.monotonic() >= next_strike and monkey.busy():
            monkey.strike()
            next_strike = time.monotonic() + monkey.every
        time.sleep(0.1)


@dataclass
class ChaosResult:
    verdict: Verdict
    traces: list[Trace]
    kills: Counter[str]
    during_load: Counter[str]
    seconds: float


def run_chaos(
    console: Console,
    *,
    dossiers: int,
    every: float,
    kills_each: int,
    concurrency: int,
    seed: int,
    var_dir: Path | None = None,
) -> ChaosResult:
    var = var_dir or Path(tempfile.mkdtemp(prefix="motcua-chaos-"))
    settings = Settings(var_dir=var)  # the stack hands it to its children (Stack.env)
    stack = Stack(settings)
    console.print(f"Stack in {var}; load of {dossiers} dossiers; kill -9 every {every:g}s")
    stack.start()
    monkey = Monkey(stack, every, kills_each, random.Random(seed))
    stop = threading.Event()
    try:
        stack.wait_ready(timeout=120)
        supervisor = threading.Thread(target=supervise, args=(stack, monkey, stop), daemon=True)
        started = time.monotonic()
        supervisor.start()
        driver = Driver(_urls(settings), _secret(settings))
        stuck = asyncio.run(_load(console, driver, dossiers, concurrency, monkey))
        monkey.loading = False
        while not monkey.done() and not stuck:  # a short load still gets every kill in
            time.sleep(0.5)
        stop.set()
        supervisor.join()
        if stuck:
            verdict = Verdict()
            verdict.add("load", stuck, "")
        else:
            stack.wait_ready(timeout=180)
            verdict = verify(driver, _endpoints(settings))
        seconds = time.monotonic() - started
    finally:
        stop.set()
        stack.stop()
    return ChaosResult(verdict, driver.traces, monkey.kills, monkey.during_load, seconds)


async def _load(
    console: Console, driver: Driver, dossiers: int, concurrency: int, monkey: Monkey
) -> list[str]:
    """Run the load; what got stuck, if anything (a dossier that made no progress
    within the driver's patience, or a refusal the driver did not expect)."""
    async with driver:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("Dossiers through their lifecycle", total=dossiers)

            def advance(trace: Trace) -> None:
                progress.advance(task)
                if progress.tasks[0].completed >= dossiers // 2 and not monkey.broker_killed:
                    monkey.broker_due = True

            stuck: list[str] = []
            try:
                await driver.run(dossiers, concurrency=concurrency, progress=advance)
            except* Stuck as group:
                stuck = [str(error) for error in group.exceptions]
    return stuck


def _urls(settings: Settings) -> Urls:
    return Urls.local(settings.host, settings.port_of)


def _secret(settings: Settings) -> str:
    return settings.jwt_secret.get_secret_value()


def _endpoints(settings: Settings) -> Endpoints:
    from services.notify.settings import NotifySettings
    from services.portal.settings import PortalSettings

    return Endpoints(
        notify=f"http://{settings.host}:{settings.notify_port}",
        stats=f"http://{settings.host}:{settings.stats_port}",
        sinks=f"http://127.0.0.1:{NotifySettings().sinks_port}",
        kafka=settings,
        topic=settings.dossier_topic,
        portal=f"http://{settings.host}:{settings.portal_port}",
        portal_sim=f"http://127.0.0.1:{PortalSettings().portal_sim_port}",
    )


def print_result(console: Console, result: ChaosResult) -> None:
    kills = Table(title="kill -9 (during the load / in all)")
    for name in (*IMPLEMENTED_SERVICES, "broker"):
        kills.add_column(name, justify="right")
    kills.add_row(
        *(f"{result.during_load[n]} / {result.kills[n]}" for n in (*IMPLEMENTED_SERVICES, "broker"))
    )
    console.print(kills)
    retries = sum(t.retries for t in result.traces)
    console.print(
        f"{len(result.traces)} dossiers in {result.seconds:.0f}s; "
        f"{retries} requests retried or refused while services were down"
    )
    checks = Table(title="Checks")
    for column in ("check", "result", "detail"):
        checks.add_column(column)
    for c in result.verdict.checks:
        checks.add_row(c.name, "[green]pass[/]" if c.passed else "[red]FAIL[/]", c.detail)
    console.print(checks)
