"""Paying fees as applicants, officers and the gateway do: intake, workflow and payment as
real processes, the gateway simulator as a real process misbehaving (every callback sent
three times, shuffled, late), all on the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.payment import PaymentSucceeded
from devtools.demo.client import APPLICANTS, DemoClient
from motcua.core.waiting import wait_for
from motcua.runtime.settings import DEV_JWT_SECRET
from services.payment.gateway import signed_headers
from services.payment.settings import DEV_GATEWAY_SECRET
from tests.support.processes import ROOT, Broker, ServiceProcess, free_port
from tests.support.processes import simulator as start_simulator
from tests.support.topics import Record, read_topic

pytestmark = pytest.mark.integration

DRIVING = "1.002804"  # level 4, one agency, 135,000 đ due before the result
TRANSPORT = "000.00.22.H23"
FEE = 135_000
MONDAY = "2026-03-02T09:00:00+07:00"
DAY = "2026-03-02"


@dataclass
class PayStack:
    client: DemoClient
    payment: ServiceProcess
    sim: str
    broker: Broker
    topic: str
    clock_file: Path
    tmp: Path

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.payment.url, timeout=30)
        self.browser = httpx.Client(timeout=30)

    def received(self, procedure_id: str = DRIVING, applicant: int = 0) -> str:
        """Submitted online, accepted at the one-stop; returns once payment has its bill."""
        dossier_id, agency = self.client.submit(APPLICANTS[applicant], procedure_id)
        self.client.call("POST", f"/v1/dossiers/{dossier_id}/accept", self.client.officer(agency))
        self.wait_bill(dossier_id, lambda b: True)
        return dossier_id

    def bill(self, dossier_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/payments/{dossier_id}", headers=self.client.admin())
        return response.json() if response.status_code == 200 else {}

    def wait_bill(
        self, dossier_id: str, ok: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        bill: dict[str, Any] = {}
        while time.monotonic() < deadline:
            bill = self.bill(dossier_id)
            if bill and ok(bill):
                return bill
            time.sleep(0.1)
        raise TimeoutError(f"bill did not reach the expected state: {bill}")

    def checkout(self, dossier_id: str) -> dict[str, Any]:
        code = self.bill(dossier_id)["payment_code"]
        response = self.http.post(f"/v1/payments/{code}/checkout")
        assert response.status_code == 200, response.text
        attempt: dict[str, Any] = response.json()
        return attempt

    def browser_pays(self, attempt: dict[str, Any], button: str = "approve") -> str:
        """What the applicant does on the gateway's page: returns where it sends them."""
        page = self.browser.get(attempt["pay_url"])
        assert page.status_code == 200
        assert "135.000" in page.text
        answer = self.browser.post(f"{self.sim}/pay/{attempt['attempt_id']}/{button}")
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    def attempt(self, attempt_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.http.get(f"/v1/attempts/{attempt_id}").json()
        return result

    def wait_attempt(self, attempt_id: str, status: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.attempt(attempt_id)["status"] != status:
            if time.monotonic() > deadline:
                raise TimeoutError(f"attempt {attempt_id} is {self.attempt(attempt_id)}")
            time.sleep(0.1)

    def payment_events(self, dossier_id: str, until: Callable[[list[str]], bool]) -> list[Record]:
        def mine(records: list[Record]) -> list[Record]:
            return [r for r in records if r.key == dossier_id and r.event["producer"] == "payment"]

        records = read_topic(
            self.broker.bootstrap,
            self.topic,
            lambda rs: until([r.event["type"] for r in mine(rs)]),
            settle=1.5,  # late duplicates of callbacks would show up here
        )
        return mine(records)

    def drive_to_last_step(self, dossier_id: str) -> None:
        officer = self.client.officer(TRANSPORT)
        for action in ("complete-step", "complete-step", "approve", "complete-step"):
            self.client.act("POST", f"/v1/dossiers/{dossier_id}/{action}", officer, json={})
        self.client.act("POST", f"/v1/dossiers/{dossier_id}/complete-step", officer, json={})

    def issue_result(self, dossier_id: str) -> httpx.Response:
        return self.client.flow.post(
            f"/v1/dossiers/{dossier_id}/result",
            headers=self.client.officer(TRANSPORT),
            json={"kind": "pickup"},
        )

    def settlement(self, day: str) -> str:
        """The gateway's settlement file, fetched as the merchant does (signed)."""
        path = f"/v1/settlements/{day}"
        headers = signed_headers(DEV_GATEWAY_SECRET, path.encode())
        response = httpx.get(f"{self.sim}{path}", headers=headers)
        assert response.status_code == 200, response.text
        return response.text


@pytest.fixture
def simulator(tmp_path: Path, clock_file: Path) -> Iterator[str]:
    port = free_port()
    with start_simulator(
        "devtools.gateway_simulator",
        port,
        tmp_path / "gateway-sim.log",
        MOTCUA_VAR_DIR=str(tmp_path / "sim"),
        MOTCUA_CLOCK_FILE=str(clock_file),
        MOTCUA_GATEWAY_SIM_PORT=str(port),
        MOTCUA_GATEWAY_SIM_DUPLICATES="2",
        MOTCUA_GATEWAY_SIM_DELAY_SECONDS="0.2",
        MOTCUA_GATEWAY_SIM_SHUFFLE="true",
    ) as url:
        yield url


@pytest.fixture
def stack(
    start_service: Callable[..., ServiceProcess],
    simulator: str,
    broker: Broker,
    topic: str,
    clock_file: Path,
    database_url: str | None,
    tmp_path: Path,
) -> PayStack:
    clock_file.write_text(MONDAY)
    intake = start_service("intake", database_url)
    workflow = start_service("workflow", database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    payment = start_service(
        "payment",
        database_url,
        MOTCUA_PAYMENT_PORT=str(port),
        MOTCUA_PAYMENT_PUBLIC_URL=url,
        MOTCUA_PAYMENT_GATEWAY_URL=simulator,
        MOTCUA_PAYMENT_CALLBACK_URL=f"{url}/v1/gateway/callback",
        MOTCUA_PAYMENT_RETURN_URL=f"{url}/v1/payments-returned",
        MOTCUA_PAYMENT_CHECK_SECONDS="0.3",
    )
    client = DemoClient(intake.url, workflow.url, DEV_JWT_SECRET)
    return PayStack(client, payment, simulator, broker, topic, clock_file, tmp_path)


def test_paying_online_unblocks_the_result(stack: PayStack) -> None:
    dossier = stack.received()
    stack.drive_to_last_step(dossier)
    blocked = stack.issue_result(dossier)

    attempt = stack.checkout(dossier)
    again = stack.checkout(dossier)  # a double click: the same attempt
    back = stack.browser_pays(attempt)
    bill = stack.wait_bill(dossier, lambda b: b["status"] == "paid")
    returned = stack.browser.get(back)
    deadline = time.monotonic() + 30
    while (result := stack.issue_result(dossier)).status_code == 409:
        assert time.monotonic() < deadline, result.text  # until workflow hears of the payment
        time.sleep(0.2)

    assert blocked.status_code == 409
    assert again["attempt_id"] == attempt["attempt_id"]
    assert result.status_code == 204, result.text
    assert "Đã thanh toán" in returned.text
    [payment] = bill["payments"]
    assert payment["amount_vnd"] == FEE
    records = stack.payment_events(dossier, lambda ts: "PaymentSucceeded" in ts)
    succeeded = [
        PaymentSucceeded.model_validate(r.event)
        for r in records
        if r.event["type"] == "PaymentSucceeded"
    ]
    assert len(succeeded) == 1  # three shuffled copies of each callback, one payment
    assert succeeded[0].attempt_id == attempt["attempt_id"]
    assert succeeded[0].receipt_number == payment["receipt_number"]
    deliveries = httpx.get(f"{stack.sim}/sim/callbacks").json()
    assert sum(1 for d in deliveries if d["status"] == "succeeded") >= 3
    receipt = stack.http.get(
        f"/v1/receipts/{payment['receipt_number']}", headers=stack.client.citizen(APPLICANTS[0])
    )
    printable = stack.http.get(
        f"/v1/receipts/{payment['receipt_number']}/print", headers=stack.client.admin()
    )
    assert receipt.json()["amount_vnd"] == FEE
    assert receipt.json()["payer"]["full_name"] == APPLICANTS[0].name
    assert printable.status_code == 200
    assert payment["receipt_number"] in printable.text
    assert "135.000 đ" in printable.text
    lookup = {"X-Id-Number": APPLICANTS[0].id_number}
    public = wait_for(
        lambda: next(
            (
                t
                for t in stack.client.call("GET", f"/v1/dossiers/{bill['dossier_code']}", lookup)[
                    "timeline"
                ]
                if t["event"] == "PaymentSucceeded"
            ),
            None,
        )
    )
    paid_step = public
    assert paid_step["details"]["receipt_number"] == payment["receipt_number"]


def test_declined_then_paid(stack: PayStack) -> None:
    dossier = stack.received()

    first = stack.checkout(dossier)
    stack.browser_pays(first, "decline")
    stack.wait_attempt(first["attempt_id"], "failed")
    second = stack.checkout(dossier)
    stack.browser_pays(second)
    bill = stack.wait_bill(dossier, lambda b: b["status"] == "paid")

    assert second["attempt_id"] != first["attempt_id"]
    assert bill["paid_vnd"] == FEE
    records = stack.payment_events(dossier, lambda ts: "PaymentSucceeded" in ts)
    assert [r.event["type"] for r in records] == [
        "FeeAssessed",
        "PaymentFailed",
        "PaymentSucceeded",
    ]


def test_expiry_then_late_success_is_recorded(stack: PayStack) -> None:
    dossier = stack.received()
    attempt = stack.checkout(dossier)

    later = datetime.fromisoformat(MONDAY) + timedelta(minutes=91)
    stack.clock_file.write_text(later.isoformat())
    stack.wait_attempt(attempt["attempt_id"], "expired")
    stack.browser_pays(attempt)  # the bank confirmed after our deadline
    bill = stack.wait_bill(dossier, lambda b: b["status"] == "paid")

    assert bill["payments"][0]["after_expiry"] is True
    records = stack.payment_events(dossier, lambda ts: "PaymentSucceeded" in ts)
    assert [r.event["type"] for r in records] == [
        "FeeAssessed",
        "PaymentExpired",
        "PaymentSucceeded",
    ]
    assert records[-1].event["after_expiry"] is True


def test_withdrawal_after_paying_refunds_through_the_gateway(stack: PayStack) -> None:
    dossier = stack.received()
    stack.browser_pays(stack.checkout(dossier))
    stack.wait_bill(dossier, lambda b: b["status"] == "paid")

    stack.client.act(
        "POST",
        f"/v1/dossiers/{dossier}/withdraw",
        stack.client.citizen(APPLICANTS[0]),
        json={"reason": "Không còn nhu cầu"},
    )
    bill = stack.wait_bill(dossier, lambda b: any(r["status"] == "succeeded" for r in b["refunds"]))

    [refund] = bill["refunds"]
    assert refund["amount_vnd"] == FEE
    assert bill["status"] == "refunded"
    records = stack.payment_events(dossier, lambda ts: "RefundSucceeded" in ts)
    assert [r.event["type"] for r in records][-2:] == ["RefundRequested", "RefundSucceeded"]
    settlement = stack.settlement(DAY)
    assert f"{refund['refund_transaction_id']},{bill['payments'][0]['attempt_id']}" in settlement


def test_forged_and_stale_callbacks_are_refused_and_logged(stack: PayStack) -> None:
    dossier = stack.received()
    attempt = stack.checkout(dossier)
    body = json.dumps(
        {
            "event_id": "x",
            "order_id": attempt["attempt_id"],
            "status": "succeeded",
            "transaction_id": "GWFAKE",
            "amount_vnd": FEE,
            "occurred_at": "2026-03-02T02:05:00Z",
        }
    ).encode()

    forged = stack.http.post(
        "/v1/gateway/callback", content=body, headers=signed_headers("guessed-secret", body)
    )
    stale = stack.http.post(
        "/v1/gateway/callback",
        content=body,
        headers=signed_headers(DEV_GATEWAY_SECRET, body, now=time.time() - 3600),
    )
    unsigned = stack.http.post("/v1/gateway/callback", content=body)

    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
    assert stack.bill(dossier)["paid_vnd"] == 0
    assert stack.attempt(attempt["attempt_id"])["status"] == "pending"
    log = stack.payment.log_path.read_text()
    assert log.count("gateway callback rejected") >= 3


def test_reconciliation_reports_a_deliberate_mismatch(stack: PayStack) -> None:
    one, two = stack.received(applicant=0), stack.received(applicant=1)
    for dossier in (one, two):
        stack.browser_pays(stack.checkout(dossier))
    paid = [stack.wait_bill(d, lambda b: b["status"] == "paid") for d in (one, two)]
    tampered = paid[1]["payments"][0]["transaction_id"]
    adjusted = httpx.post(
        f"{stack.sim}/sim/settlement-adjustments",
        json={"transaction_id": tampered, "amount_vnd": 130_000},
    )
    assert adjusted.status_code == 201
    csv_path = stack.tmp / "reconciliation.csv"

    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.cli",
            "payments",
            "reconcile",
            "--date",
            DAY,
            "--out",
            str(csv_path),
        ],
        env={**stack.payment.env, "COLUMNS": "150"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )

    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "amount_mismatch" in cli.stdout
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "transaction_id,kind,payment_code,recorded_vnd,gateway_vnd,outcome"
    by_id = {line.split(",")[0]: line.split(",") for line in lines[1:]}
    assert by_id[tampered][3:] == ["135000", "130000", "amount_mismatch"]
    matched = paid[0]["payments"][0]["transaction_id"]
    assert by_id[matched][-1] == "matched"
    assert len(by_id) == 2
