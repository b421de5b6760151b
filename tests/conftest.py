"""Shared fixtures: a real broker and a real PostgreSQL for the whole session.

Containers where a Docker engine answers, local processes otherwise: see
``tests.support.infrastructure``, whose one-line report opens and closes every run.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.infrastructure import (
    Choice,
    InfrastructureError,
    choose,
    start_kafka_container,
    start_postgres_container,
)
from tests.support.processes import (
    Broker,
    Postgres,
    ServiceProcess,
    find_pg_bin,
    free_port,
    service_env,
    start_broker,
    start_postgres,
)

CHOICE = pytest.StashKey[Choice]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=("sqlite", "postgres"),
        default=os.environ.get("MOTCUA_TEST_STORE", "sqlite"),
        help="Where services started by the tests keep their events and read models: "
        "SQLite files (the embedded default) or a fresh PostgreSQL database per test",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On ``--store postgres`` run again, on PostgreSQL, the tests marked
    ``store_semantics``: those whose outcome depends on what the store guarantees (a kill
    between commit and publish, a redelivered batch, a restart that resumes from the
    store, a tampered table). Every service reaches its store through the same
    ``store_env``, so the other process-level tests (HTTP behaviour, pages, notices) would
    only repeat on PostgreSQL what they showed on SQLite. Tests taking the
    ``database_url`` fixture already ran on both stores, and tests marked ``own_stores``
    set up their stores themselves (documented in each); neither is run again."""
    if config.getoption("--store") != "postgres":
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        both = "database_url" in fixtures or item.get_closest_marker("own_stores") is not None
        again = item.get_closest_marker("store_semantics") is not None
        (keep if again and not both else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config: pytest.Config) -> None:
    """Decide once, before the header is printed, what this session runs against."""
    try:
        config.stash[CHOICE] = choose()
    except InfrastructureError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_report_header(config: pytest.Config) -> str:
    return config.stash[CHOICE].report()


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Again at the end, where CI logs are read (the header is hidden under -q)."""
    terminalreporter.write_line(config.stash[CHOICE].report())


@pytest.fixture(scope="session")
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Broker]:
    running: Broker
    if request.config.stash[CHOICE].containers:
        running = start_kafka_container()
    else:
        running = start_broker(tmp_path_factory.mktemp("broker"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> Iterator[Postgres]:
    server: Postgres
    if request.config.stash[CHOICE].containers:
        server = start_postgres_container()
    else:
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
def store_url(request: pytest.FixtureRequest) -> str | None:
    """Where this test's services keep their stores: None (SQLite files under the test's
    var dir) or, on ``--store postgres``, one fresh database the services share (each
    service has tables of its own, as in production)."""
    if request.config.getoption("--store") != "postgres":
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
    broker: Broker, tmp_path: Path, topic: str, clock_file: Path, store_url: str | None
) -> Iterator[Callable[..., ServiceProcess]]:
    """Start service processes on the test's broker topic; all stopped at the end.
    Without an explicit ``database_url`` they use the session's store (``--store``)."""
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
                database_url=database_url or store_url,
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
