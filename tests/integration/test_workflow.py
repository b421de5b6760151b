"""Workflow as agencies and applicants use it: intake and workflow as real processes."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.reader import PdfFileReader

from contracts.events import encode
from contracts.payment import PaymentSucceeded
from devtools.demo.client import APPLICANTS, DemoClient
from devtools.pdf import one_page_pdf
from motcua.runtime.kafka import ensure_topics
from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from tests.support.processes import Broker, Postgres, ServiceProcess
from tests.support.topics import Record, read_topic

pytestmark = pytest.mark.integration

LAND = "1.004227"  # one-stop -> land office -> tax -> land office (x2) -> one-stop
ONE_STOP, LAND_OFFICE, TAX = "000.00.31.H23", "000.01.25.H23", "000.00.35.H23"
BIRTH, COMMUNE = "1.001193", "001.20.51.H23"
MONDAY = "2026-03-02T09:00:00+07:00"


@dataclass
class Stack:
    client: DemoClient
    workflow: ServiceProcess
    broker: Broker
    topic: str
    clock_file: Path

    def set_today(self, moment: str) -> None:
        self.clock_file.write_text(moment)

    def received(self, procedure_id: str, applicant: int = 0) -> str:
        """Submit online and accept at the one-stop; wait until workflow has the process."""
        dossier_id, agency = self.client.submit(APPLICANTS[applicant], procedure_id)
        self.client.call("POST", f"/v1/dossiers/{dossier_id}/accept", self.client.officer(agency))
        self.wait(dossier_id, agency, lambda t: True)
        return dossier_id

    def timeline(self, dossier_id: str, agency: str) -> dict[str, Any]:
        response = self.client.flow.get(
            f"/v1/dossiers/{dossier_id}/timeline", headers=self.client.officer(agency)
        )
        return response.json() if response.status_code == 200 else {}

    def wait(
        self,
        dossier_id: str,
        agency: str,
        ok: Callable[[dict[str, Any]], bool],
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            timeline = self.timeline(dossier_id, agency)
            if timeline and ok(timeline):
                return timeline
            time.sleep(0.1)
        raise TimeoutError(f"workflow did not reach the expected state: {timeline}")

    def act(self, agency: str, dossier_id: str, action: str, **body: Any) -> None:
        self.client.act(
            "POST", f"/v1/dossiers/{dossier_id}/{action}", self.client.officer(agency), json=body
        )

    def events(self, dossier_id: str, until: Callable[[list[Record]], bool]) -> list[Record]:
        records = read_topic(
            self.broker.bootstrap,
            self.topic,
            lambda rs: until([r for r in rs if r.key == dossier_id]),
            settle=1.0,
        )
        return [r for r in records if r.key == dossier_id]


@pytest.fixture
def stack(
    start_service: Callable[..., ServiceProcess], broker: Broker, topic: str, clock_file: Path
) -> Stack:
    clock_file.write_text(MONDAY)
    intake = start_service("intake")
    workflow = start_service("workflow")
    return Stack(
        DemoClient(intake.url, workflow.url, DEV_JWT_SECRET), workflow, broker, topic, clock_file
    )


def types(records: list[Record], producer: str = "workflow") -> list[str]:
    return [r.event["type"] for r in records if r.event.get("producer") == producer]


def pay(broker: Broker, topic: str, dossier_id: str) -> None:
    """Act as the payment service: publish the dossier's PaymentSucceeded."""
    event = PaymentSucceeded(
        event_id=uuid.uuid4(),
        dossier_id=uuid.UUID(dossier_id),
        occurred_at=datetime.now(UTC),
        producer="payment",
        correlation_id="test",
        payment_code="PAY-1",
        amount_vnd=1_530_000,
        method="online",
        paid_at=datetime.now(UTC),
        transaction_id="GWTEST",
        receipt_number="BL26-0000001",
    )

    async def send() -> None:
        await ensure_topics(Settings(kafka_bootstrap_servers=broker.bootstrap), [topic])
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        await producer.send_and_wait(
            topic,
            encode(event),
            key=dossier_id.encode(),
            headers=[("producer", b"payment"), ("position", b"1")],
        )
        await producer.stop()

    asyncio.run(send())


def test_land_transfer_goes_across_three_agencies_and_back(stack: Stack) -> None:
    dossier = stack.received(LAND)

    stack.act(ONE_STOP, dossier, "complete-step", notes="Đủ hồ sơ")
    stack.act(ONE_STOP, dossier, "hand-over")
    stack.act(LAND_OFFICE, dossier, "claim")
    stack.act(LAND_OFFICE, dossier, "complete-step", notes="Hồ sơ hợp lệ")
    stack.act(LAND_OFFICE, dossier, "hand-over")
    stack.act(TAX, dossier, "complete-step", notes="Thông báo thuế đã ban hành")
    stack.act(TAX, dossier, "hand-over")
    stack.act(LAND_OFFICE, dossier, "complete-step", notes="Đã cập nhật biến động")
    stack.act(LAND_OFFICE, dossier, "approve", notes="Đồng ý")
    stack.act(LAND_OFFICE, dossier, "complete-step", notes="Đã ký")
    stack.act(LAND_OFFICE, dossier, "hand-over")
    blocked = stack.client.flow.post(
        f"/v1/dossiers/{dossier}/result",
        headers=stack.client.officer(ONE_STOP),
        json={"kind": "pickup"},
    )
    pay(stack.broker, stack.topic, dossier)
    stack.wait(dossier, ONE_STOP, lambda t: t["paid"])
    stack.act(ONE_STOP, dossier, "result", kind="pickup")
    stack.act(ONE_STOP, dossier, "returned", method="pickup")

    assert blocked.status_code == 409
    assert "fee" in blocked.json()["error"]["message"]
    timeline = stack.timeline(dossier, ONE_STOP)
    assert timeline["status"] == "returned"
    assert [s["agency_code"] for s in timeline["steps"]] == [
        ONE_STOP,
        LAND_OFFICE,
        TAX,
        LAND_OFFICE,
        LAND_OFFICE,
        ONE_STOP,
    ]
    assert all(s["status"] == "completed" and s["officer"] for s in timeline["steps"])
    records = stack.events(dossier, lambda rs: "ResultReturned" in types(rs))
    handovers = [
        (r.event["from_agency"], r.event["to_agency"])
        for r in records
        if r.event["type"] == "DossierHandedOver"
    ]
    assert handovers == [
        (ONE_STOP, LAND_OFFICE),
        (LAND_OFFICE, TAX),
        (TAX, LAND_OFFICE),
        (LAND_OFFICE, ONE_STOP),
    ]
    result = next(r.event for r in records if r.event["type"] == "ResultIssued")
    assert result["timeliness"] == "early"


def test_officers_of_other_agencies_cannot_act(stack: Stack) -> None:
    dossier = stack.received(LAND)

    elsewhere = stack.client.flow.post(
        f"/v1/dossiers/{dossier}/complete-step", headers=stack.client.officer(TAX), json={}
    )
    stranger = stack.client.flow.post(
        f"/v1/dossiers/{dossier}/complete-step",
        headers=stack.client.officer("000.00.99.H23"),
        json={},
    )
    citizen = stack.client.flow.post(
        f"/v1/dossiers/{dossier}/approve", headers=stack.client.citizen(APPLICANTS[0]), json={}
    )

    assert elsewhere.status_code == 403
    assert ONE_STOP in elsewhere.json()["error"]["message"]
    assert stranger.status_code == 404
    assert citizen.status_code == 403


def test_supplement_pauses_the_clock_and_moves_the_appointment(stack: Stack) -> None:
    dossier = stack.received(BIRTH)
    stack.act(
        COMMUNE,
        dossier,
        "request-supplement",
        reason="Giấy chứng sinh bị mờ",
        documents=["giay_chung_sinh"],
    )
    stack.set_today("2026-03-05T10:00:00+07:00")  # Thursday: 3 working days later
    upload = stack.client.act(
        "POST",
        "/v1/attachments",
        stack.client.citizen(APPLICANTS[0]),
        files={"file": ("cs.pdf", b"%PDF clear copy", "application/pdf")},
    )

    stack.client.act(
        "POST",
        f"/v1/dossiers/{dossier}/supplement",
        stack.client.citizen(APPLICANTS[0]),
        json={
            "documents": [
                {"document_id": "giay_chung_sinh", "sha256": upload["sha256"], "filename": "cs.pdf"}
            ]
        },
    )

    timeline = stack.timeline(dossier, COMMUNE)
    assert timeline["status"] == "in_progress"
    # Paused Monday 9:00 to Thursday 10:00: 23.5 working hours (3 working days in whole
    # days). The appointment, Tuesday 9:00, moves by them to Friday 10:00; the first
    # quarter-day step, due Monday 10:52:30, to Thursday 13:52:30.
    assert timeline["appointment_date"] == "2026-03-06"
    assert timeline["appointment_at"] == "2026-03-06T10:00:00+07:00"
    assert timeline["pauses"][0]["days"] == 3
    assert timeline["steps"][0]["due_date"] == "2026-03-05"
    assert timeline["steps"][0]["due_at"] == "2026-03-05T13:52:30+07:00"
    records = stack.events(dossier, lambda rs: "SupplementProvided" in types(rs))
    assert types(records)[-2:] == ["SupplementRequested", "SupplementProvided"]


@pytest.mark.store_semantics
def test_overdue_dossier_is_marked_once_and_apology_sets_new_date(stack: Stack) -> None:
    dossier = stack.received(BIRTH)

    stack.set_today("2026-03-05T10:00:00+07:00")  # appointment was Tuesday 03-03
    stack.wait(dossier, COMMUNE, lambda t: t["overdue"])
    time.sleep(1.5)  # several more clock ticks: nothing may be marked twice
    stack.act(
        COMMUNE,
        dossier,
        "apology",
        reason="Cán bộ thụ lý ốm đột xuất",
        appointment_date="2026-03-09",
    )

    timeline = stack.timeline(dossier, COMMUNE)
    assert timeline["responsible_agency"] == COMMUNE
    assert timeline["appointment_date"] == "2026-03-09"
    records = stack.events(dossier, lambda rs: "ApologyIssued" in types(rs))
    counts = Counter(types(records))
    assert (counts["StepOverdue"], counts["DossierOverdue"], counts["ApologyIssued"]) == (1, 1, 1)


def test_rejected_dossier_cannot_be_withdrawn_or_continued(stack: Stack) -> None:
    dossier = stack.received(BIRTH)
    stack.act(COMMUNE, dossier, "reject", reason="Người yêu cầu không có quyền đăng ký")

    withdraw = stack.client.flow.post(
        f"/v1/dossiers/{dossier}/withdraw",
        headers=stack.client.citizen(APPLICANTS[0]),
        json={"reason": "không cần nữa"},
    )
    complete = stack.client.flow.post(
        f"/v1/dossiers/{dossier}/complete-step", headers=stack.client.officer(COMMUNE), json={}
    )

    assert (withdraw.status_code, complete.status_code) == (409, 409)
    assert "rejected" in complete.json()["error"]["message"]


def test_applicant_withdraws_before_the_result(stack: Stack) -> None:
    dossier = stack.received(BIRTH)

    stack.client.act(
        "POST",
        f"/v1/dossiers/{dossier}/withdraw",
        stack.client.citizen(APPLICANTS[0]),
        json={"reason": "Nộp nhầm"},
    )

    assert stack.timeline(dossier, COMMUNE)["status"] == "withdrawn"
    records = stack.events(dossier, lambda rs: "DossierWithdrawn" in types(rs))
    assert types(records)[-1] == "DossierWithdrawn"


def test_queue_shows_only_dossiers_at_the_agency_with_filters(stack: Stack) -> None:
    land = stack.received(LAND)
    birth = stack.received(BIRTH, applicant=1)
    stack.set_today("2026-03-05T10:00:00+07:00")
    stack.wait(birth, COMMUNE, lambda t: t["overdue"])

    overdue = stack.client.act(
        "GET", "/v1/queue", stack.client.officer(COMMUNE), params={"overdue": True}
    )
    one_stop = stack.client.act("GET", "/v1/queue", stack.client.officer(ONE_STOP))

    assert [r["dossier_id"] for r in overdue] == [birth]
    assert [r["dossier_id"] for r in one_stop] == [land]


@pytest.mark.store_semantics
def test_restarting_workflow_mid_run_loses_and_repeats_nothing(stack: Stack) -> None:
    dossiers = [stack.received(BIRTH, applicant=i % 3) for i in range(4)]
    for dossier in dossiers[:2]:
        stack.act(COMMUNE, dossier, "complete-step", notes="ok")

    stack.workflow.kill()
    stack.workflow.start()
    for dossier in dossiers[2:]:
        stack.act(COMMUNE, dossier, "complete-step", notes="ok")

    for dossier in dossiers:
        records = stack.events(dossier, lambda rs: types(rs).count("StepStarted") >= 2)
        # The relay may repeat a batch after kill -9 (same event ids): count distinct events.
        distinct = {r.event["event_id"]: r.event for r in records}.values()
        started = [e["step_index"] for e in distinct if e["type"] == "StepStarted"]
        assert started == [0, 1]  # one process each, every transition once


def test_public_lookup_at_intake_follows_the_workflow(stack: Stack) -> None:
    dossier = stack.received(BIRTH)
    code = stack.client.call("GET", f"/v1/dossiers/{dossier}", stack.client.citizen(APPLICANTS[0]))[
        "code"
    ]
    lookup = {"X-Id-Number": APPLICANTS[0].id_number}

    stack.act(
        COMMUNE,
        dossier,
        "request-supplement",
        reason="Thiếu giấy chứng sinh bản gốc",
        documents=["giay_chung_sinh"],
    )

    deadline = time.monotonic() + 45
    view: dict[str, Any] = {}
    while time.monotonic() < deadline and view.get("status") != "supplement_requested":
        view = stack.client.call("GET", f"/v1/dossiers/{code}", lookup)
        time.sleep(0.1)
    assert view["status"] == "supplement_requested"
    last = view["timeline"][-1]
    assert last["event"] == "SupplementRequested"
    assert last["details"]["reason"] == "Thiếu giấy chứng sinh bản gốc"
    assert last["by"] == COMMUNE  # the agency, never the officer's name


def test_applicant_downloads_the_electronic_result_and_anyone_checks_a_copy(
    stack: Stack, tmp_path: Path
) -> None:
    dossier = stack.received(BIRTH)
    applicant = stack.client.citizen(APPLICANTS[0])
    code = stack.client.call("GET", f"/v1/dossiers/{dossier}", applicant)["code"]
    for notes in ("Đã tiếp nhận", "Hợp lệ", "Đã ghi sổ"):
        stack.act(COMMUNE, dossier, "complete-step", notes=notes)
    stack.act(COMMUNE, dossier, "approve", notes="Đồng ý")
    pdf = one_page_pdf("Giấy khai sinh", "Bản điện tử")  # unsigned: workflow signs it
    upload = stack.client.act(
        "POST",
        "/v1/attachments",
        stack.client.officer(COMMUNE),
        files={"file": ("gks.pdf", pdf, "application/pdf")},
    )
    document = {"document_id": "giay_khai_sinh", "sha256": upload["sha256"], "filename": "gks.pdf"}
    stack.act(COMMUNE, dossier, "result", kind="electronic", document=document)

    path = f"/v1/dossiers/{code}/result/document"
    by_token = stack.client.flow.get(path, headers=applicant)
    by_lookup = stack.client.flow.get(path, headers={"X-Id-Number": APPLICANTS[0].id_number})
    stranger = stack.client.flow.get(path, headers=stack.client.citizen(APPLICANTS[1]))
    wrong_id = stack.client.flow.get(path, headers={"X-Id-Number": APPLICANTS[1].id_number})
    signed = by_token.content
    sha256 = hashlib.sha256(signed).hexdigest()
    check = stack.client.flow.get(f"/v1/dossiers/{code}/result/verify", params={"sha256": sha256})
    at = signed.index(b"(Giay khai sinh)")
    tampered = signed[:at] + b"(Giay khai xinh)" + signed[at + 16 :]
    copies = {
        name: stack.client.flow.post(
            f"/v1/dossiers/{code}/result/verify",
            files={"file": ("ban-sao.pdf", data, "application/pdf")},
        ).json()
        for name, data in (("signed", signed), ("tampered", tampered))
    }

    assert by_token.status_code == 200
    assert (by_lookup.status_code, by_lookup.content) == (200, signed)
    assert by_token.headers["content-type"] == "application/pdf"
    assert signed.startswith(pdf)
    assert signed != pdf
    # Signed with the commune's certificate of the development CA the stack made.
    agency_p12 = tmp_path / "var" / "dev-ca" / f"{COMMUNE}.p12"
    _, agency_cert, _ = pkcs12.load_key_and_certificates(agency_p12.read_bytes(), None)
    assert agency_cert is not None
    signature = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    assert signature.signer_cert.dump() == agency_cert.public_bytes(serialization.Encoding.DER)
    assert (stranger.status_code, wrong_id.status_code) == (404, 404)
    assert (check.json()["matches"], check.json()["valid"]) == (True, True)
    assert (copies["signed"]["matches"], copies["signed"]["valid"]) == (True, True)
    assert copies["signed"]["signature"]["trusted"] is True
    assert (copies["tampered"]["matches"], copies["tampered"]["valid"]) == (False, False)
    assert copies["tampered"]["signature"]["intact"] is False
    assert copies["tampered"]["signature"]["reason"] == (
        "the document was changed after it was signed"
    )
    records = stack.events(dossier, lambda rs: "ResultIssued" in types(rs))
    result = next(r.event for r in records if r.event["type"] == "ResultIssued")
    assert (result["kind"], result["document"]["sha256"]) == ("electronic", sha256)
    assert result["document"]["size"] == len(signed)


def test_supplement_nobody_asked_for_is_a_clear_conflict(stack: Stack) -> None:
    dossier = stack.received(BIRTH)
    upload = stack.client.act(
        "POST",
        "/v1/attachments",
        stack.client.citizen(APPLICANTS[0]),
        files={"file": ("x.pdf", b"%PDF extra", "application/pdf")},
    )

    response = stack.client.flow.post(
        f"/v1/dossiers/{dossier}/supplement",
        headers=stack.client.citizen(APPLICANTS[0]),
        json={
            "documents": [
                {"document_id": "giay_chung_sinh", "sha256": upload["sha256"], "filename": "x.pdf"}
            ]
        },
    )

    assert response.status_code == 409
    assert "no supplement was requested" in response.json()["error"]["message"]


@pytest.mark.postgres
def test_two_workflow_processes_mark_an_overdue_dossier_once(
    start_service: Callable[..., ServiceProcess],
    broker: Broker,
    topic: str,
    clock_file: Path,
    postgres: Postgres,
    tmp_path: Path,
) -> None:
    clock_file.write_text(MONDAY)
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    intake = start_service("intake")
    first = start_service("workflow", url, tmp_path / "w1")
    start_service("workflow", url, tmp_path / "w2")
    stack = Stack(
        DemoClient(intake.url, first.url, DEV_JWT_SECRET), first, broker, topic, clock_file
    )
    dossiers = [stack.received(BIRTH, applicant=i) for i in range(3)]

    stack.set_today("2026-03-05T10:00:00+07:00")
    for dossier in dossiers:
        stack.wait(dossier, COMMUNE, lambda t: t["overdue"])
    time.sleep(2.0)  # both clocks tick several more times

    for dossier in dossiers:
        records = stack.events(dossier, lambda rs: "DossierOverdue" in types(rs))
        distinct = {r.event["event_id"]: r.event["type"] for r in records}.values()
        assert Counter(distinct)["DossierOverdue"] == 1
        assert Counter(distinct)["StepOverdue"] == 1
        assert Counter(distinct)["StepStarted"] == 1  # one process, though two consumers ran


def test_birth_registration_goes_through_its_steps_each_by_the_officer_of_its_role(
    stack: Stack,
) -> None:
    """tiep_nhan (mot_cua) → tham_dinh_ghi_so (chuyen_vien) → ky_giay_khai_sinh
    (lanh_dao) → tra_ket_qua (mot_cua), three officers of the commune with one role each."""
    dossier = stack.received(BIRTH)
    officers = {
        role: stack.client.officer(COMMUNE, step_roles=(role,), sub=f"{role}@commune")
        for role in ("mot_cua", "chuyen_vien", "lanh_dao")
    }

    def act(role: str, action: str, **body: Any) -> None:
        path = f"/v1/dossiers/{dossier}/{action}"
        stack.client.act("POST", path, officers[role], json=body)

    def attempt(role: str, action: str, **body: Any) -> Any:
        path = f"/v1/dossiers/{dossier}/{action}"
        return stack.client.flow.post(path, headers=officers[role], json=body)

    act("mot_cua", "claim")
    act("mot_cua", "complete-step", notes="Đủ hồ sơ")
    wrong_role = attempt("mot_cua", "complete-step", notes="Hợp lệ")
    queue = stack.client.act("GET", "/v1/queue", officers["chuyen_vien"], params={"can_act": True})
    act("chuyen_vien", "complete-step", notes="Hợp lệ, đã ghi sổ")
    not_the_leader = attempt("chuyen_vien", "approve", notes="Đồng ý")
    act("lanh_dao", "approve", notes="Đồng ý")
    act("lanh_dao", "complete-step", notes="Đã ký")
    act("mot_cua", "result", kind="pickup")
    act("mot_cua", "returned", method="pickup")

    assert wrong_role.status_code == 403
    assert wrong_role.json()["error"]["message"] == (
        "to complete step tham_dinh_ghi_so (Kiểm tra, ghi Sổ đăng ký khai sinh, cập nhật Cơ "
        "sở dữ liệu hộ tịch điện tử) you need the step role chuyen_vien; your step roles: "
        "mot_cua"
    )
    assert not_the_leader.status_code == 403
    assert "you need the step role lanh_dao" in not_the_leader.json()["error"]["message"]
    assert [(r["dossier_id"], r["can_act"]) for r in queue] == [(dossier, True)]
    records = stack.events(dossier, lambda rs: "ResultReturned" in types(rs))
    acted = [
        (r.event["type"], r.event["officer"], r.event["role"])
        for r in records
        if r.event["type"] in ("StepClaimed", "StepCompleted", "DossierApproved")
    ]
    assert acted == [
        ("StepClaimed", "mot_cua@commune", "mot_cua"),
        ("StepCompleted", "mot_cua@commune", "mot_cua"),
        ("StepCompleted", "chuyen_vien@commune", "chuyen_vien"),
        ("DossierApproved", "lanh_dao@commune", "lanh_dao"),
        ("StepCompleted", "lanh_dao@commune", "lanh_dao"),
    ]
    assert stack.timeline(dossier, COMMUNE)["status"] == "returned"
