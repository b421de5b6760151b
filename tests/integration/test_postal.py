"""A result sent by post, as the applicant, the officers and the postal operator see it.

Intake, workflow, notify and postal run as real processes on the real broker; the
postal operator is its simulator, a process of its own, which sends each of its
callbacks three times and is told to send news out of order. What is checked is what
the public interfaces say: the topic, workflow's timeline, postal's shipment, the
applicant's inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.demo.client import APPLICANTS, DemoClient
from motcua.core.waiting import wait_for
from motcua.runtime.settings import DEV_JWT_SECRET
from tests.support.processes import Broker, ServiceProcess, free_port
from tests.support.processes import simulator as start_simulator
from tests.support.topics import Record, read_topic

pytestmark = pytest.mark.integration

BIRTH, COMMUNE = "1.001193", "001.20.51.H23"  # four steps at one commune, no fee before
MONDAY = "2026-03-02T09:00:00+07:00"
ADDRESS = {
    "recipient": "NGUYỄN THỊ LAN",
    "phone": "0912000001",
    "street": "Số 12, đường Trần Phú",
    "ward": "Phường 3",
    "district": "",
    "province": "Đồng Tháp",
}


@pytest.fixture
def operator(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with start_simulator(
        "devtools.postal_simulator",
        port,
        tmp_path / "postal-sim.log",
        MOTCUA_VAR_DIR=str(tmp_path / "postal-sim"),
        MOTCUA_POSTAL_SIM_PORT=str(port),
        MOTCUA_POSTAL_SIM_DUPLICATES="2",
    ) as url:
        yield url


def test_a_result_by_post_is_ordered_tracked_once_per_step_and_returned_on_delivery(
    start_service: Callable[..., ServiceProcess],
    operator: str,
    broker: Broker,
    topic: str,
    clock_file: Path,
) -> None:
    clock_file.write_text(MONDAY)
    intake = start_service("intake")
    workflow = start_service("workflow")
    notify = start_service("notify")
    port = free_port()
    postal = start_service(
        "postal",
        MOTCUA_POSTAL_PORT=str(port),
        MOTCUA_POSTAL_URL=operator,
        MOTCUA_POSTAL_CALLBACK_URL=f"http://127.0.0.1:{port}/v1/postal/callback",
        MOTCUA_POSTAL_POLL_SECONDS="0.1",
    )
    client = DemoClient(intake.url, workflow.url, DEV_JWT_SECRET)
    sim = httpx.Client(base_url=operator, timeout=30)
    officer = client.officer(COMMUNE)

    dossier, _agency = client.submit(
        APPLICANTS[0], BIRTH, delivery_address=ADDRESS, notify_by=["inbox"]
    )
    code = client.call("POST", f"/v1/dossiers/{dossier}/accept", officer)["code"]
    wait_for(
        lambda: (
            client.flow.get(f"/v1/dossiers/{dossier}/timeline", headers=officer).status_code == 200
        ),
        what="workflow to start the process",
    )
    for action in ("complete-step", "complete-step", "approve", "complete-step"):
        client.act("POST", f"/v1/dossiers/{dossier}/{action}", officer, json={})
    client.act("POST", f"/v1/dossiers/{dossier}/result", officer, json={"kind": "post"})

    # The order reaches the operator once, with the address the applicant gave.
    def ordered() -> dict[str, Any] | None:
        shipments = sim.get("/sim/shipments").json()["shipments"]
        return shipments[0] if shipments else None

    order = wait_for(ordered, what="the shipment order at the operator")
    assert order["order"]["address"] == ADDRESS
    assert order["order"]["code"] == code
    tracking = order["tracking_number"]

    # The operator delivers; the news of the pickup comes after (out of order). Every
    # callback goes three times, and the delivery's once more later.
    def shipment() -> dict[str, Any]:
        answer = httpx.get(f"{postal.url}/v1/postal/shipments/{code}", headers=officer, timeout=10)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    delivered = sim.post(
        f"/sim/shipments/{tracking}/advance", json={"status": "delivered", "received_by": "Lan"}
    )
    assert delivered.status_code == 200, delivered.text
    wait_for(lambda: shipment()["status"] == "delivered", what="the delivery recorded")
    sim.post(f"/sim/shipments/{tracking}/advance", json={"status": "picked_up"})
    sim.post(f"/sim/shipments/{tracking}/replay/{delivered.json()['event_id']}")
    wait_for(
        lambda: len(sim.get("/sim/shipments").json()["acknowledged"]) == 3 + 3 + 1,
        what="every callback acknowledged by postal",
    )

    records = read_topic(
        broker.bootstrap,
        topic,
        lambda rs: "ResultReturned" in types(rs, dossier),
        settle=1.5,
    )
    postal_events = [t for t in types(records, dossier) if t.startswith("Shipment")]
    assert postal_events == ["ShipmentOrdered", "ShipmentDelivered"]  # once each, no late pickup
    [returned] = [
        r.event for r in records if r.key == dossier and r.event["type"] == "ResultReturned"
    ]
    assert returned["method"] == "post"
    assert returned["officer"] == f"post {tracking}"

    timeline = client.flow.get(f"/v1/dossiers/{dossier}/timeline", headers=officer).json()
    assert timeline["status"] == "returned"
    history = [entry["event"] for entry in timeline["history"]]
    assert history[-2:] == ["SentByPost", "ResultReturned"]

    final = shipment()
    assert (final["status"], final["tracking_number"]) == ("delivered", tracking)
    assert [s["status"] for s in final["steps"]] == ["requested", "ordered", "delivered"]

    citizen = client.citizen(APPLICANTS[0])
    inbox = wait_for(
        lambda: [
            m
            for m in httpx.get(f"{notify.url}/v1/inbox", headers=citizen, timeout=5).json()
            if tracking in m["body"]
        ],
        what="the postal notices in the applicant's inbox",
    )
    assert sorted(m["kind"] for m in inbox) == ["post_delivered", "posted"]


def test_a_dossier_received_by_post_carries_its_parcel_s_tracking_number(
    start_service: Callable[..., ServiceProcess], broker: Broker, topic: str
) -> None:
    intake = start_service("intake")
    client = DemoClient(intake.url, intake.url, DEV_JWT_SECRET)
    with pytest.raises(RuntimeError, match="needs the postal tracking number"):
        client.submit(APPLICANTS[1], BIRTH, channel="post")
    dossier, agency = client.submit(
        APPLICANTS[1], BIRTH, channel="post", postal_tracking_number="RR123456785VN"
    )
    client.call("POST", f"/v1/dossiers/{dossier}/accept", client.officer(agency))
    records = read_topic(
        broker.bootstrap, topic, lambda rs: "DossierReceived" in types(rs, dossier)
    )
    [received] = [r.event for r in records if r.event["type"] == "DossierReceived"]
    assert received["channel"] == "post"
    assert received["postal_tracking_number"] == "RR123456785VN"


def types(records: list[Record], dossier: str) -> list[str]:
    return [r.event["type"] for r in records if r.key == dossier]
