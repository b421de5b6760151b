"""The electronic result (W-5): the applicant downloads it, anyone with its code checks
a copy against it, and each level of procedure issues only the kinds of result it may.

Workflow runs in-process on its real store (tests/support/apps.py); a dossier reaches it as the
``DossierReceived`` its consumer would apply, and officers act over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient

from contracts.envelope import Applicant, Document, Envelope
from contracts.intake import DossierReceived
from contracts.payment import FeeWaived
from contracts.workflow import ResultIssued
from devtools.pdf import one_page_pdf
from motcua.core.calendar import BASE
from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from motcua.web.auth import issue_token
from services.catalogue.procedures import load_catalogue
from services.notify.application import NotifyApplication
from services.notify.main import create_app as create_notify_app
from services.workflow.application import WorkflowApplication
from services.workflow.domain import Process
from services.workflow.policy import planned_steps
from services.workflow.readmodel import process_row
from services.workflow.signing import ResultSigning
from tests.support.apps import make_app
from tests.support.dossiers import citizen, officer, submit_birth
from tests.support.ledger import deliver

BIRTH, MARITAL, BUILDING = "1.001193", "1.004873", "1.009994"  # levels 4, 2 and 3
COMMUNE = "001.20.51.H23"
ID_NUMBER = "001190000001"
PDF = one_page_pdf("Giấy khai sinh", "Bản điện tử")  # unsigned: workflow signs it
CATALOGUE = load_catalogue()
WEDNESDAY = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
UNKNOWN_CODE = f"{COMMUNE}-260301-0001"  # the dossiers here are all received on 03-02


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
    owner = _workflow(client)
    deliver(owner, owner.store, owner.handlers(), event, name="workflow")
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
        deliver(workflow, workflow.store, workflow.handlers(), waived, name="workflow")
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


def _issued_electronically(
    client: TestClient, account: str | None = "citizen-1"
) -> tuple[str, str]:
    """A birth registration with its electronic result issued: (dossier id, code)."""
    dossier_id, code = _received(client, BIRTH, account)
    agency = _to_last_step(client, dossier_id)
    issued = client.post(
        f"/v1/dossiers/{dossier_id}/result",
        headers=officer(agency),
        json=_electronic(_upload(client, agency)),
    )
    assert issued.status_code == 204, issued.text
    return dossier_id, code


def _issued(client: TestClient, code: str) -> bytes:
    """The issued document as stored: the uploaded PDF with the agency's signature."""
    workflow = _workflow(client)
    process = workflow._by_ref(code)
    assert process is not None
    assert process.electronic_result is not None
    data: bytes = workflow.attachments.get(process.electronic_result["sha256"])["data"]
    assert data.startswith(PDF)
    assert len(data) > len(PDF)
    return data


def _download(client: TestClient, ref: str, headers: dict[str, str] | None = None) -> Any:
    return client.get(f"/v1/dossiers/{ref}/result/document", headers=headers or {})


LOOKUP = {"X-Id-Number": ID_NUMBER}


# -- downloading the electronic result --------------------------------------------------


def test_applicant_downloads_the_electronic_result_with_their_token(client: TestClient) -> None:
    _, code = _issued_electronically(client)

    response = _download(client, code, citizen("citizen-1"))

    assert response.status_code == 200, response.text
    assert response.content == _issued(client, code)
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Gi%E1%BA%A5y%20khai%20sinh.pdf" in disposition
    assert response.headers["etag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'


def test_applicant_downloads_by_dossier_id_too(client: TestClient) -> None:
    dossier_id, code = _issued_electronically(client)

    response = _download(client, dossier_id, citizen("citizen-1"))

    assert (response.status_code, response.content) == (200, _issued(client, code))


def test_counter_applicant_downloads_with_the_code_and_their_id_number(
    client: TestClient,
) -> None:
    _, code = _issued_electronically(client, account=None)

    response = _download(client, code, LOOKUP)
    padded = _download(client, code, {"X-Id-Number": f" {ID_NUMBER} "})

    assert (response.status_code, response.content) == (200, _issued(client, code))
    assert padded.status_code == 200


def test_officer_of_the_issuing_agency_and_an_admin_download_it(client: TestClient) -> None:
    _, code = _issued_electronically(client)
    admin = {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, sub='a', role='admin')}"}

    by_officer = _download(client, code, officer(COMMUNE))
    by_admin = _download(client, code, admin)

    assert (by_officer.status_code, by_admin.status_code) == (200, 200)


def test_nobody_else_gets_the_result_and_all_get_the_404_of_an_unknown_code(
    client: TestClient,
) -> None:
    dossier_id, code = _issued_electronically(client)
    ministry = issue_token(DEV_JWT_SECRET, sub="m", role="ministry")
    unknown = _download(client, UNKNOWN_CODE, LOOKUP)

    refused = {
        "wrong id number": _download(client, code, {"X-Id-Number": "001190000002"}),
        "anonymous": _download(client, code),
        "another citizen": _download(client, code, citizen("citizen-2", "001190000002")),
        "another agency": _download(client, code, officer("000.00.99.H23")),
        "a ministry": _download(client, code, {"Authorization": f"Bearer {ministry}"}),
        "id number with the dossier id": _download(client, dossier_id, LOOKUP),
    }

    assert unknown.status_code == 404
    assert {k: r.status_code for k, r in refused.items()} == dict.fromkeys(refused, 404)
    assert all(r.json() == unknown.json() for r in refused.values())
    assert all(PDF not in r.content for r in refused.values())


def test_before_the_result_the_applicant_is_told_there_is_no_electronic_result(
    client: TestClient,
) -> None:
    _, code = _received(client)

    response = _download(client, code, citizen("citizen-1"))

    assert response.status_code == 404
    assert "no electronic result" in response.json()["error"]["message"]


def test_a_result_for_pickup_has_no_file_to_download(client: TestClient) -> None:
    dossier_id, code = _received(client)
    agency = _to_last_step(client, dossier_id)
    assert _act(client, agency, dossier_id, "result", kind="pickup").status_code == 204

    response = _download(client, code, LOOKUP)

    assert response.status_code == 404
    assert "no electronic result" in response.json()["error"]["message"]


def test_the_result_stays_downloadable_after_it_is_returned(client: TestClient) -> None:
    dossier_id, code = _issued_electronically(client)
    returned = _act(client, COMMUNE, dossier_id, "returned", method="electronic")
    assert returned.status_code == 204, returned.text

    response = _download(client, code, LOOKUP)

    assert (response.status_code, response.content) == (200, _issued(client, code))


# -- checking a copy against the issued result ------------------------------------------


def _verify(client: TestClient, code: str, sha256: str) -> Any:
    return client.get(f"/v1/dossiers/{code}/result/verify", params={"sha256": sha256})


def test_the_issued_results_hash_matches_for_anyone_without_personal_data(
    client: TestClient,
) -> None:
    _, code = _issued_electronically(client)

    response = _verify(client, code, hashlib.sha256(_issued(client, code)).hexdigest())

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["matches"] is True
    assert body["valid"] is True
    assert body["signature"]["valid"] is True
    assert body["issued_on"] == "2026-03-04"
    assert body["procedure_name"] == "Đăng ký khai sinh"
    assert body["agency_code"] == COMMUNE
    assert ID_NUMBER not in response.text
    assert "NGUYỄN" not in response.text
    assert "citizen-1" not in response.text


def test_another_documents_hash_does_not_match_and_says_nothing_more(client: TestClient) -> None:
    _, code = _issued_electronically(client)

    response = _verify(client, code, hashlib.sha256(b"a forged copy").hexdigest())

    assert response.status_code == 200
    assert response.json() == {
        "code": code,
        "sha256": hashlib.sha256(b"a forged copy").hexdigest(),
        "matches": False,
        "valid": False,
        "procedure_name": None,
        "agency_code": None,
        "issued_on": None,
        "signature": None,
    }


def test_an_unknown_code_answers_like_a_hash_that_does_not_match(client: TestClient) -> None:
    _, code = _issued_electronically(client)
    sha256 = hashlib.sha256(_issued(client, code)).hexdigest()
    unknown = UNKNOWN_CODE

    wrong = _verify(client, unknown, sha256)
    no_match = _verify(client, code, hashlib.sha256(b"x").hexdigest())

    assert (wrong.status_code, no_match.status_code) == (200, 200)
    assert wrong.json()["matches"] is False
    assert {k: v for k, v in wrong.json().items() if k not in ("code", "sha256")} == {
        k: v for k, v in no_match.json().items() if k not in ("code", "sha256")
    }


def test_a_hash_matches_only_by_the_code_not_the_dossier_id(client: TestClient) -> None:
    dossier_id, code = _issued_electronically(client)

    response = _verify(client, dossier_id, hashlib.sha256(_issued(client, code)).hexdigest())

    assert response.json()["matches"] is False


def test_a_pickup_result_matches_no_document(client: TestClient) -> None:
    dossier_id, code = _received(client)
    agency = _to_last_step(client, dossier_id)
    assert _act(client, agency, dossier_id, "result", kind="pickup").status_code == 204
    some_upload = _upload(client, agency)

    response = _verify(client, code, some_upload)

    assert response.json()["matches"] is False


def test_an_uploaded_copy_is_checked_by_its_content(client: TestClient) -> None:
    _, code = _issued_electronically(client)
    issued = _issued(client, code)

    same = client.post(
        f"/v1/dossiers/{code}/result/verify",
        files={"file": ("ban-sao.pdf", issued, "application/pdf")},
    )
    other = client.post(
        f"/v1/dossiers/{code}/result/verify",
        files={"file": ("ban-sao.pdf", issued + b" sua", "application/pdf")},
    )

    assert same.status_code == 200, same.text
    assert (same.json()["matches"], other.json()["matches"]) == (True, False)
    assert same.json()["sha256"] == hashlib.sha256(issued).hexdigest()


def test_a_malformed_hash_is_invalid(client: TestClient) -> None:
    _, code = _issued_electronically(client)

    response = _verify(client, code, "not-a-hash")

    assert response.status_code == 422


# -- the agency's signature (O-5) ----------------------------------------------------------


def _check_copy(client: TestClient, code: str, data: bytes) -> Any:
    return client.post(
        f"/v1/dossiers/{code}/result/verify",
        files={"file": ("ban-sao.pdf", data, "application/pdf")},
    )


def test_the_issued_result_is_the_upload_signed_by_the_issuing_agency(client: TestClient) -> None:
    dossier_id, code = _issued_electronically(client)
    process: Process = _workflow(client).repository.get(uuid.UUID(dossier_id))
    assert process.result is not None
    issued = _issued(client, code)

    checked = _check_copy(client, code, issued).json()

    assert process.result["document"]["sha256"] == hashlib.sha256(issued).hexdigest()
    assert process.result["document"]["sha256"] != hashlib.sha256(PDF).hexdigest()
    assert process.result["document"]["size"] == len(issued)
    assert (checked["matches"], checked["valid"]) == (True, True)
    signature = checked["signature"]
    assert (signature["signed"], signature["intact"], signature["trusted"]) == (True, True, True)
    assert signature["signer_common_name"] == process.step["agency_name"]
    assert signature["signing_time"] is not None


def test_a_tampered_copy_is_answered_invalid_with_the_reason(client: TestClient) -> None:
    _, code = _issued_electronically(client)
    issued = _issued(client, code)
    at = issued.index(b"(Giay khai sinh)")
    tampered = issued[:at] + b"(Giay khai xinh)" + issued[at + 16 :]

    response = _check_copy(client, code, tampered)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["matches"], body["valid"]) == (False, False)
    assert (body["signature"]["signed"], body["signature"]["intact"]) == (True, False)
    assert body["signature"]["reason"] == "the document was changed after it was signed"


def test_an_electronic_result_that_is_not_a_pdf_is_refused(client: TestClient) -> None:
    dossier_id, _ = _received(client, BIRTH)
    agency = _to_last_step(client, dossier_id)
    upload = client.post(
        "/v1/attachments",
        headers=officer(agency),
        files={"file": ("giay-khai-sinh.txt", b"Giay khai sinh", "text/plain")},
    ).json()

    response = client.post(
        f"/v1/dossiers/{dossier_id}/result",
        headers=officer(agency),
        json=_electronic(upload["sha256"]),
    )

    assert response.status_code == 422, response.text
    assert "must be a PDF" in response.json()["error"]["message"]
    assert _workflow(client).repository.get(uuid.UUID(dossier_id)).status == "in_progress"


def test_a_result_signed_by_an_untrusted_certificate_is_refused(
    client: TestClient, tmp_path: Path
) -> None:
    dossier_id, code = _received(client, BIRTH)
    agency = _to_last_step(client, dossier_id)
    stranger = ResultSigning.from_settings(Settings(var_dir=tmp_path / "elsewhere"))
    signed_elsewhere = stranger.prepare(PDF, agency, "UBND xã Tân Phú", code)

    response = client.post(
        f"/v1/dossiers/{dossier_id}/result",
        headers=officer(agency),
        json=_electronic(_upload(client, agency, signed_elsewhere)),
    )

    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "the document's signature is not valid" in message
    assert "signer's certificate is not trusted" in message
    assert _workflow(client).repository.get(uuid.UUID(dossier_id)).status == "in_progress"


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
    steps = planned_steps(procedure, datetime(2026, 3, 2, 9, tzinfo=UTC), BASE, None)
    process = Process(
        dossier_id=uuid.uuid4(),
        code=f"{procedure.receiving_agency.code}-260302-0042",
        procedure_id=procedure.id,
        procedure_name=procedure.name,
        applicant_account="citizen-1",
        applicant_id_number=ID_NUMBER,
        level=procedure.level,
        steps=steps,
        received_on=date(2026, 3, 2),
        appointment_date=steps[-1]["due_date"],
        fee_due_before_result=procedure.fee_due_before_result,
        correlation_id="c",
        appointment_at=None,
    )
    process.start_step(
        index=0,
        started_on=date(2026, 3, 2),
        due_date=steps[0]["due_date"],
        correlation_id="c",
        due_at=None,
    )
    stored = [workflow.mapper.to_stored_event(e) for e in process.collect_events()]
    state = json.loads(stored[0].state)
    # As the Started event was stored then: without the level, the ID number, the hour.
    del state["level"], state["applicant_id_number"], state["appointment_at"]
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


# -- the notice that the result is ready --------------------------------------------------


def _notify(tmp_path: Path) -> NotifyApplication:
    settings = Settings(var_dir=tmp_path / "notify", workflow_public_url="https://xl.example.vn/")
    notify: NotifyApplication = create_notify_app(settings).state.notify
    return notify


def _result_issued(received: DossierReceived, kind: str) -> ResultIssued:
    return ResultIssued(
        event_id=uuid.uuid4(),
        dossier_id=received.dossier_id,
        occurred_at=WEDNESDAY,
        producer="workflow",
        correlation_id="test",
        agency_code=COMMUNE,
        officer="officer-1",
        kind=kind,
        issued_at=WEDNESDAY,
        appointment_date=received.appointment_date,
        timeliness="early",
    )


def _deliver(notify: NotifyApplication, event: Envelope) -> None:
    deliver(notify, notify.store, notify.handlers(), event, name="notify")


@pytest.mark.parametrize("kind", ["electronic", "pickup"])
def test_the_result_ready_email_links_to_workflows_download_only_for_electronic_results(
    tmp_path: Path, kind: str
) -> None:
    notify = _notify(tmp_path)
    received = _received_event(BIRTH, email="lan@example.vn")
    _deliver(notify, received)

    _deliver(notify, _result_issued(received, kind))

    row = notify.store.read_one(
        "SELECT body FROM {notify_notices} WHERE kind = 'result_ready' AND channel = 'email'"
    )
    assert row is not None
    link = f"https://xl.example.vn/v1/dossiers/{received.code}/result/document"
    if kind == "electronic":
        assert f"tải bản điện tử của kết quả tại: {link}" in row["body"]
    else:
        assert link not in row["body"]
        assert "nhận kết quả tại Bộ phận Một cửa" in row["body"]


# -- intake's lookup names the electronic result ------------------------------------------


def test_the_public_lookup_names_the_electronic_result_and_its_hash(tmp_path: Path) -> None:
    intake = TestClient(make_app("intake", tmp_path))
    dossier_id = submit_birth(intake, headers=officer(), channel="counter")
    code = intake.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer()).json()["code"]
    document = {
        "document_id": "giay_khai_sinh",
        "filename": "giay-khai-sinh.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
    }
    event = ResultIssued(
        event_id=uuid.uuid4(),
        dossier_id=uuid.UUID(dossier_id),
        occurred_at=datetime.now(UTC),
        producer="workflow",
        correlation_id="test",
        agency_code=COMMUNE,
        officer="officer-9",
        kind="electronic",
        document=Document.model_validate(document),
        issued_at=datetime.now(UTC),
        appointment_date=date(2026, 3, 3),
        timeliness="on_time",
    )
    app: Any = intake.app
    owner = app.state.intake
    deliver(owner, owner.store, owner.progress.handlers(), event, name="intake")

    view = intake.get(f"/v1/dossiers/{code}", headers=LOOKUP).json()

    entry = view["timeline"][-1]
    assert (entry["event"], entry["details"]["kind"]) == ("ResultIssued", "electronic")
    assert entry["details"]["document"] == document
    assert "officer-9" not in str(view)
