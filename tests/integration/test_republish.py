"""Total broker loss: the embedded broker restarts empty, ``motcua republish`` rebuilds the
topic from the stores, and the services converge with nothing lost or doubled."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.demo.client import APPLICANTS, DemoClient
from devtools.demo.workflow import has_process
from motcua.core.waiting import wait_for
from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from ops.stack import Stack
from tests.support.processes import (
    ROOT,
    Broker,
    LocalBroker,
    ServiceProcess,
    free_port,
    service_env,
    start_broker,
)
from tests.support.topics import Record, read_topic

# own_stores: each test runs its own stack or services on the stores it sets up.
pytestmark = [pytest.mark.integration, pytest.mark.own_stores]

DRIVING, TRANSPORT = "1.002804", "000.00.22.H23"
SERVICES = ("intake", "workflow", "payment")


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[list[LocalBroker]]:
    """A broker of this test's own (it will be killed); the list holds the current one.

    Always the local tansu broker, even when the session runs on containers: the test
    kills it and starts an empty one on the same port, which the services' settings name,
    and a new Kafka container would be published on another port.
    """
    brokers = [start_broker(tmp_path)]
    yield brokers
    for broker in brokers:
        if broker.process.poll() is None:
            broker.stop()


@pytest.fixture
def started() -> Iterator[list[ServiceProcess]]:
    """The test's service processes, stopped at the end whatever happened (they are
    stopped and started again during the test)."""
    processes: list[ServiceProcess] = []
    yield processes
    for process in processes:
        process.stop()


def start_services(
    broker: Broker, tmp_path: Path, topic: str, ports: dict[str, int], started: list[ServiceProcess]
) -> list[ServiceProcess]:
    for name in SERVICES:
        env = service_env(
            bootstrap=broker.bootstrap,
            var_dir=tmp_path / "var",
            database_url=None,
            topic=topic,
            **{name: ports[name]},
        )
        env["MOTCUA_PAYMENT_GATEWAY_URL"] = "http://127.0.0.1:9"  # not needed here
        started.append(ServiceProcess(name, env, tmp_path / f"{name}.log").start())
    return started


def received(client: DemoClient, applicant: int) -> str:
    dossier_id, agency = client.submit(APPLICANTS[applicant], DRIVING)
    client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))
    return dossier_id


def processed(client: DemoClient, payment_url: str, dossier_id: str) -> bool:
    bill = httpx.get(f"{payment_url}/v1/payments/{dossier_id}", headers=client.admin())
    return has_process(client, dossier_id) and bill.status_code == 200


def test_republish_after_total_broker_loss(
    own_broker: list[LocalBroker], tmp_path: Path, started: list[ServiceProcess]
) -> None:
    topic = f"dossier-events-{uuid.uuid4().hex[:8]}"
    ports = {name: free_port() for name in SERVICES}
    services = start_services(own_broker[0], tmp_path, topic, ports, started)
    intake, workflow, payment = services
    client = DemoClient(intake.url, workflow.url, DEV_JWT_SECRET)
    before = [received(client, i) for i in range(3)]
    for dossier in before:
        wait_for(functools.partial(processed, client, payment.url, dossier))
    client.act(
        "POST", f"/v1/dossiers/{before[0]}/complete-step", client.officer(TRANSPORT), json={}
    )

    payment.stop()  # payment lags: it never saw the next dossier before the loss
    lagging = received(client, 1)
    wait_for(functools.partial(has_process, client, lagging))
    for service in services:
        service.stop()
    own_broker[0].process.kill()  # memory only: every message is gone
    own_broker[0].process.wait(10)
    own_broker.append(start_broker(tmp_path, port=own_broker[0].port))
    cli = subprocess.run(
        [sys.executable, "-m", "ops.cli", "republish"],
        env={**intake.env, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    again = subprocess.run(
        [sys.executable, "-m", "ops.cli", "republish"],
        env={**intake.env, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    for service in services:
        service.start()
    after = received(client, 0)
    wait_for(lambda: processed(client, payment.url, after))
    wait_for(lambda: processed(client, payment.url, lagging))
    client.act(
        "POST", f"/v1/dossiers/{before[1]}/complete-step", client.officer(TRANSPORT), json={}
    )

    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert again.returncode == 1  # the topic is no longer empty: refused, nothing doubled
    assert "not empty" in again.stdout
    dossiers = [*before, lagging, after]

    def converged(records: list[Record]) -> bool:
        """Every effect the services owe is on the topic: the two completed steps, and a
        bill for each dossier (payment's relay publishes the last ones after its commit,
        which the HTTP view already shows)."""
        types = [r.event.get("type") for r in records]
        billed = {r.key for r in records if r.event.get("type") == "FeeAssessed"}
        return types.count("StepCompleted") >= 2 and billed >= set(dossiers)

    # Then 2 s more, for any doubled record to show.
    records = read_topic(own_broker[-1].bootstrap, topic, converged, settle=2.0)
    ids = Counter(r.event["event_id"] for r in records)
    assert max(ids.values()) == 1  # nothing doubled on the topic
    roles = {before[0]: "before 0", before[1]: "before 1", before[2]: "before 2"}
    roles |= {lagging: "lagging", after: "after"}
    for dossier in dossiers:
        mine = [r for r in records if r.key == dossier]
        types = [r.event["type"] for r in mine]
        seen = (roles[dossier], types)
        # nothing lost, nothing applied twice: one process and one bill per dossier
        assert types.count("DossierReceived") == 1, seen
        assert types.count("StepStarted") == (2 if dossier in before[:2] else 1), seen
        assert types.count("FeeAssessed") == 1, seen
        assert types.index("DossierReceived") < types.index("StepStarted")
        assert types.index("DossierReceived") < types.index("FeeAssessed")
    codes = {
        httpx.get(f"{payment.url}/v1/payments/{d}", headers=client.admin()).json()["payment_code"]
        for d in dossiers
    }
    assert len(codes) == 5
    timeline = client.act("GET", f"/v1/dossiers/{before[1]}/timeline", client.admin())
    assert [s["status"] for s in timeline["steps"]][:2] == ["completed", "started"]
    assert _positions_ascend(records)
    # Linked again from the first event, the chains continue unbroken after the loss.
    code = client.call("GET", f"/v1/dossiers/{before[1]}", client.admin())["code"]
    audit = subprocess.run(
        [sys.executable, "-m", "ops.cli", "audit", code],
        env={**intake.env, "COLUMNS": "160"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "Chain intact" in audit.stdout
    assert "workflow 2" in audit.stdout  # the step started after the republish


def _positions_ascend(records: list[Record]) -> bool:
    """Each producer's events keep their order on every partition."""
    last: dict[tuple[int, str], int] = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        key = (r.partition, r.headers["producer"])
        position = int(r.headers["position"])
        if position <= last.get(key, 0):
            return False
        last[key] = position
    return True


def embedded_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings of an embedded stack of intake and workflow on free ports, as the
    stack's children will read them from the environment."""
    for key in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(key)
    ports = {name: free_port() for name in ("intake", "workflow")}
    monkeypatch.setenv("MOTCUA_INTAKE_PORT", str(ports["intake"]))
    monkeypatch.setenv("MOTCUA_WORKFLOW_PORT", str(ports["workflow"]))
    monkeypatch.setenv("MOTCUA_DOSSIER_TOPIC", f"dossier-events-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return Settings(var_dir=tmp_path / "var", embedded_broker_port=free_port())


def test_the_embedded_stack_republishes_when_its_broker_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = embedded_settings(tmp_path, monkeypatch)
    stack = Stack(settings, services=("intake", "workflow"))
    stack.start()
    try:
        stack.wait_ready(timeout=60)
        urls = stack.urls()
        client = DemoClient(urls["intake"], urls["workflow"], DEV_JWT_SECRET)
        first = received(client, 0)
        wait_for(functools.partial(has_process, client, first))
        broker = next(c for c in stack.children if c.name == "broker")
        assert broker.process is not None
        broker.process.kill()
        broker.process.wait(10)

        stack.supervise_once()  # notices the dead broker: stop, restart, republish, start
        stack.wait_ready(timeout=60)
        second = received(client, 1)
        wait_for(functools.partial(has_process, client, second))
        records = read_topic(
            f"127.0.0.1:{settings.embedded_broker_port}",
            settings.dossier_topic,
            lambda rs: (
                {r.key for r in rs if r.event.get("type") == "StepStarted"} >= {first, second}
            ),
            settle=1.0,
        )
    finally:
        stack.stop()

    assert broker.restarts == 1
    received_events = [r.key for r in records if r.event["type"] == "DossierReceived"]
    assert sorted(received_events) == sorted([first, second])  # the first came back
    started = Counter(r.key for r in records if r.event["type"] == "StepStarted")
    assert started == {first: 1, second: 1}  # and workflow did not start it twice


def test_the_embedded_stack_started_again_on_its_stores_republishes_them_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = embedded_settings(tmp_path, monkeypatch)
    dossiers = []
    for run in range(2):  # the second run starts a new, empty broker on the same stores
        stack = Stack(settings, services=("intake", "workflow"))
        stack.start()
        try:
            stack.wait_ready(timeout=60)
            urls = stack.urls()
            client = DemoClient(urls["intake"], urls["workflow"], DEV_JWT_SECRET)
            dossiers.append(received(client, run))
            for dossier in dossiers:
                wait_for(functools.partial(has_process, client, dossier))
            records = read_topic(
                f"127.0.0.1:{settings.embedded_broker_port}",
                settings.dossier_topic,
                lambda rs: (
                    {r.key for r in rs if r.event.get("type") == "StepStarted"} >= set(dossiers)
                ),
                settle=1.0,
            )
        finally:
            stack.stop()
    started = Counter(r.key for r in records if r.event["type"] == "StepStarted")
    assert started == {dossiers[0]: 1, dossiers[1]: 1}  # both there, the first once
