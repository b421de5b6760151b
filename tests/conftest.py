"""Shared fixtures: a real broker and a real PostgreSQL for the whole session."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.processes import (
    Broker,
    Postgres,
    ServiceProcess,
    find_pg_bin,
    free_port,
    service_env,
    start_broker,
    start_postgres,
)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    running = start_broker(tmp_path_factory.mktemp("broker"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    if find_pg_bin() is None:
        message = "PostgreSQL server not installed (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: its absence there is a failure, not a skip
        pytest.skip(message)
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite under tmp_path, or a fresh PostgreSQL database for this test."""
    if request.param == "sqlite":
        return None
    server: Postgres = request.getfixturevalue("postgres")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def topic() -> str:
    """A topic of this test's own, so tests never see each other's messages."""
    return f"dossier-events-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    """Write an ISO time here to move the services' "now" (absent: the real clock)."""
    return tmp_path / "clock"


@pytest.fixture
def start_service(
    broker: Broker, tmp_path: Path, topic: str, clock_file: Path
) -> Iterator[Callable[..., ServiceProcess]]:
    """Start service processes on the test's broker topic; all stopped at the end."""
    started: list[ServiceProcess] = []

    def start(
        name: str, database_url: str | None = None, var_dir: Path | None = None, **env: str
    ) -> ServiceProcess:
        directory = var_dir or tmp_path / "var"
        process = ServiceProcess(
            name,
            service_env(
                bootstrap=broker.bootstrap,
                var_dir=directory,
                database_url=database_url,
                topic=topic,
                **{name: free_port()},
            ),
            tmp_path / f"{name}-{len(started)}.log",
        )
        process.env.update(MOTCUA_CLOCK_FILE=str(clock_file), MOTCUA_OVERDUE_CHECK_SECONDS="0.3")
        started.append(process)
        return process.start(env)

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def start_intake(start_service: Callable[..., ServiceProcess]) -> Callable[..., ServiceProcess]:
    return functools.partial(start_service, "intake")
