"""The result (W-5): each level of procedure issues only the kinds of result it may.

Workflow runs in-process on its real store (tests/apps.py); a dossier reaches it as the
``DossierReceived`` its consumer would apply, and officers act over HTTP.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient

from contracts.envelope import Applicant
from contracts.intake import DossierReceived
from contracts.payment import FeeWaived
from services.intake.catalogue import load_catalogue
from services.workflow.application import WorkflowApplication, planned_steps
from services.workflow.domain import Process
from services.workflow.readmodel import process_row
from tests.apps import make_app
from tests.dossiers import officer

BIRTH, MARITAL, BUILDING = "1.001193", "1.004873", "1.009994"  # levels 4, 2 and 3
COMMUNE = "001.20.51.H23"
ID_NUMBER = "001190000001"
PDF = b"%PDF-1.4 giay khai sinh ban dien tu"
CATALOGUE = load_catalogue()
WEDNESDAY = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    client = TestClient(make_app("workflow", tmp_path))  # no lifespan: no broker needed
    _workflow(client).clock = lambda: WEDNESDAY
    return client


def _workflow(client: TestClient) -> WorkflowApplication:
    app: Any = client.app
    workflow: WorkflowApplication = app.state.workflow
    return workflow


def _received_event(
    procedure_id: str = BIRTH, account: str | None = "citizen-1", email: str | None = None
) -> DossierReceived:
    procedure = CATALOGUE.get(procedure_id)
    assert procedure is not None
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    dossier_id = uuid.uuid4()
    return DossierReceived(
        event_id=uuid.uuid4(),
        dossier_id=dossier_id,
        occurred_at=now,
        producer="intake",
        correlation_id="test",
        procedure_id=procedure.id,
        procedure_name=procedure.name,
        level=procedure.level,
        agency_code=procedure.receiving_agency.code,
        channel="online" if account else "counter",
        applicant=Applicant(
            account=account,
            full_name="NGUYỄN THỊ LAN",
            id_number=ID_NUMBER,
            email=email,
            notify_by=("inbox", "email") if account else ("email",),
        ),
        form_data={},
        documents=(),
        code=f"{procedure.receiving_agency.code}-260302-{dossier_id.hex[:4].upper()}",
        received_at=now,
        appointment_date=date(2026, 3, 20),
        time_limit_working_days=procedure.time_limit_working_days,
        received_by="officer-1",
    )


def _received(
    client: TestClient, procedure_id: str = BIRTH, account: str | None = "citizen-1"
) -> tuple[str, str]:
    """Start the dossier's process as the consumer would; return (dossier id, code)."""
    event = _received_event(procedure_id, account)
    _workflow(client).start(event, [])
    return str(event.dossier_id), event.code


def _act(client: TestClient, agency: str, dossier_id: str, action: str, **body: Any) -> Any:
    return client.post(f"/v1/dossiers/{dossier_id}/{action}", headers=officer(agency), json=body)


def _to_last_step(client: TestClient, dossier_id: str) -> str:
    """Complete every step but the last (handing over where the agency changes), approve,
    open the fee gate; return the agency that issues the result."""
    workflow = _workflow(client)
    while True:
        process: Process = workflow.repository.get(uuid.UUID(dossier_id))
        if process.is_last_step:
            break
        done = _act(client, process.agency, dossier_id, "complete-step", notes="Đã xử lý")
        assert done.status_code == 204, done.text
        if process.next_agency != process.agency:
            handed = _act(client, process.agency, dossier_id, "hand-over")
            assert handed.status_code == 204, handed.text
    agency: str = process.agency
    approved = _act(client, agency, dossier_id, "approve", notes="Đồng ý")
    assert approved.status_code == 204, approved.text
    if not process.paid:
        waived = FeeWaived(
            event_id=uuid.uuid4(),
            dossier_id=uuid.UUID(dossier_id),
            occurred_at=datetime.now(UTC),
            producer="payment",
            correlation_id="test",
            reason="Miễn phí",
        )
        workflow.open_payment_gate(waived, [])
    return agency


def _upload(client: TestClient, agency: str = COMMUNE, data: bytes = PDF) -> str:
    upload = client.post(
        "/v1/attachments",
        headers=officer(agency),
        files={"file": ("giay-khai-sinh.pdf", data, "application/pdf")},
    )
    assert upload.status_code == 201, upload.text
    sha256: str = upload.json()["sha256"]
    return sha256


def _electronic(sha256: str, filename: str = "Giấy khai sinh.pdf") -> dict[str, Any]:
    return {
        "kind": "electronic",
        "document": {"document_id": "giay_khai_sinh", "sha256": sha256, "filename": filename},
    }


# -- the kind of result each level may issue (W-5) ---------------------------------------


def test_a_level_3_procedure_may_not_issue_an_electronic_result(client: TestClient) -> None:
    dossier_id, _ = _received(client, BUILDING)
    agency = _to_last_step(client, dossier_id)

    response = client.post(
        f"/v1/dossiers/{dossier_id}/result",
        headers=officer(agency),
        json=_electronic(_upload(client, agency)),
    )

    assert response.status_code == 409, response.text
    message = response.json()["error"]["message"]
    assert "level 3" in message
    assert "at the counter or by post" in message
    assert _workflow(client).repository.get(uuid.UUID(dossier_id)).status == "in_progress"


@pytest.mark.parametrize("kind", ["pickup", "post"])
def test_a_level_3_procedure_issues_its_result_at_the_counter_or_by_post(
    client: TestClient, kind: str
) -> None:
    dossier_id, _ = _received(client, BUILDING)
    agency = _to_last_step(client, dossier_id)

    response = _act(client, agency, dossier_id, "result", kind=kind)

    assert response.status_code == 204, response.text


def test_a_level_2_procedure_may_not_issue_an_electronic_result(client: TestClient) -> None:
    dossier_id, _ = _received(client, MARITAL)
    agency = _to_last_step(client, dossier_id)

    response = client.post(
        f"/v1/dossiers/{dossier_id}/result",
        headers=officer(agency),
        json=_electronic(_upload(client, agency)),
    )

    assert response.status_code == 409
    assert "level 2" in response.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["electronic", "pickup", "post"])
def test_a_level_4_procedure_issues_any_kind_of_result(client: TestClient, kind: str) -> None:
    dossier_id, _ = _received(client, BIRTH)
    agency = _to_last_step(client, dossier_id)
    body = _electronic(_upload(client, agency)) if kind == "electronic" else {"kind": kind}

    response = client.post(f"/v1/dossiers/{dossier_id}/result", headers=officer(agency), json=body)

    assert response.status_code == 204, response.text


def test_a_level_3_result_is_not_returned_electronically(client: TestClient) -> None:
    dossier_id, _ = _received(client, BUILDING)
    agency = _to_last_step(client, dossier_id)
    assert _act(client, agency, dossier_id, "result", kind="pickup").status_code == 204

    response = _act(client, agency, dossier_id, "returned", method="electronic")

    assert response.status_code == 409
    assert "level 3" in response.json()["error"]["message"]


def test_a_process_started_before_levels_were_recorded_takes_its_level_from_the_catalogue(
    client: TestClient,
) -> None:
    workflow = _workflow(client)
    procedure = CATALOGUE.get(BUILDING)
    assert procedure is not None
    steps = planned_steps(procedure, date(2026, 3, 2))
    process = Process(
        dossier_id=uuid.uuid4(),
        code=f"{procedure.receiving_agency.code}-260302-0042",
        procedure_id=procedure.id,
        procedure_name=procedure.name,
        applicant_account="citizen-1",
        level=procedure.level,
        steps=steps,
        received_on=date(2026, 3, 2),
        appointment_date=steps[-1]["due_date"],
        fee_due_before_result=procedure.fee_due_before_result,
        correlation_id="c",
    )
    process.start_step(
        index=0, started_on=date(2026, 3, 2), due_date=steps[0]["due_date"], correlation_id="c"
    )
    stored = [workflow.mapper.to_stored_event(e) for e in process.collect_events()]
    state = json.loads(stored[0].state)
    del state["level"]  # as the Started event was stored then
    stored[0] = StoredEvent(
        stored[0].originator_id, stored[0].originator_version, stored[0].topic,
        json.dumps(state).encode(),
    )  # fmt: skip
    workflow.recorder.insert_events(stored)
    workflow.store.write(process_row(process))
    assert workflow.repository.get(process.id).level is None
    agency = _to_last_step(client, str(process.id))

    response = client.post(
        f"/v1/dossiers/{process.id}/result",
        headers=officer(agency),
        json=_electronic(_upload(client, agency)),
    )

    assert response.status_code == 409
    assert "level 3" in response.json()["error"]["message"]
