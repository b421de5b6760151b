"""Intake as the single-window portal and a ministry see it: a real process, real broker."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.dossiers import BIRTH_AGENCY, CITIZEN_ID, citizen, officer, submit_birth
from tests.support.processes import Broker, ServiceProcess
from tests.support.topics import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def intake(start_intake: Callable[..., ServiceProcess]) -> Iterator[httpx.Client]:
    process = start_intake()
    with httpx.Client(base_url=process.url, timeout=30) as client:
        yield client


def test_procedure_search_ignores_vietnamese_diacritics(intake: httpx.Client) -> None:
    response = intake.get("/v1/procedures", params={"q": "dang ky khai sinh"})

    assert response.status_code == 200
    assert [p["name"] for p in response.json()] == ["Đăng ký khai sinh"]


def test_procedures_filter_by_level_and_tier(intake: httpx.Client) -> None:
    response = intake.get("/v1/procedures", params={"level": 4, "tier": "province"})

    found = response.json()
    assert found
    assert {(p["level"], p["tier"]) for p in found} == {(4, "province")}


def test_accepted_dossier_gets_code_appointment_and_events_on_topic(
    intake: httpx.Client, broker: Broker, topic: str, clock_file: Path
) -> None:
    # A Monday morning: one working day (7.5 h of sessions) ends on Tuesday at 09:00.
    # The clock is fixed because the appointment depends on the hour of receipt.
    clock_file.write_text("2026-03-02T09:00:00+07:00")
    dossier_id = submit_birth(intake)

    accepted = intake.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer())

    assert accepted.status_code == 200, accepted.text
    code = accepted.json()["code"]
    assert code == f"{BIRTH_AGENCY}-260302-0001"
    receipt = accepted.json()["receipt"]
    assert (receipt["appointment_date"], receipt["appointment_at"]) == (
        "2026-03-03",
        "2026-03-03T09:00:00+07:00",
    )
    records = read_topic(broker.bootstrap, topic, lambda rs: len(rs) >= 2)
    assert [r.event["type"] for r in records] == ["DossierSubmitted", "DossierReceived"]
    assert {r.key for r in records} == {dossier_id}
    assert len({r.partition for r in records}) == 1
    assert records[1].event["code"] == code


def test_lookup_by_code_with_id_number_shows_status_and_timeline(intake: httpx.Client) -> None:
    dossier_id = submit_birth(intake)
    code = intake.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer()).json()["code"]

    view = intake.get(f"/v1/dossiers/{code}", headers={"X-Id-Number": CITIZEN_ID})

    assert view.status_code == 200
    assert view.json()["status"] == "received"
    assert [e["event"] for e in view.json()["timeline"]] == ["Submitted", "Received"]
    assert view.json()["form_data"] is None  # strangers with the code see no form data


def test_lookup_with_wrong_id_number_looks_like_unknown_code(intake: httpx.Client) -> None:
    dossier_id = submit_birth(intake)
    code = intake.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer()).json()["code"]

    wrong = intake.get(f"/v1/dossiers/{code}", headers={"X-Id-Number": "999999999999"})
    unknown = intake.get(
        f"/v1/dossiers/{BIRTH_AGENCY}-990101-0001", headers={"X-Id-Number": CITIZEN_ID}
    )

    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()


def test_applicant_lists_own_dossiers_only(intake: httpx.Client) -> None:
    mine = submit_birth(intake, citizen("alice", "001190000011"), id_number="001190000011")
    submit_birth(intake, citizen("bob", "001190000012"), id_number="001190000012")

    listed = intake.get("/v1/me/dossiers", headers=citizen("alice", "001190000011")).json()

    assert [d["id"] for d in listed] == [mine]


def test_officer_of_another_agency_cannot_accept(intake: httpx.Client) -> None:
    dossier_id = submit_birth(intake)

    response = intake.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer("000.00.31.H23"))

    assert response.status_code == 403
    assert "001.20.51.H23" in response.json()["error"]["message"]


def test_accepting_twice_is_a_conflict(intake: httpx.Client) -> None:
    dossier_id = submit_birth(intake)
    intake.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer())

    again = intake.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer())

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/v1/dossiers", {"json": {"procedure_id": "1.001193", "form_data": {}}}, 401),
        ("POST", "/v1/dossiers", {"content": b"{not json", "auth": True}, 422),
        (
            "POST",
            "/v1/dossiers",
            {"json": {"procedure_id": "nope", "form_data": {}}, "auth": True},
            404,
        ),
        ("GET", "/v1/procedures/nope", {}, 404),
        ("GET", "/v1/procedures", {"params": {"level": "x"}}, 422),
        ("POST", "/v1/dossiers/not-a-uuid/accept", {"auth": True}, 422),
        ("GET", "/v1/dossiers", {"auth": True}, 403),
    ],
)
def test_bad_requests_get_a_clear_error_body(
    intake: httpx.Client, method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    headers = citizen() if kwargs.pop("auth", False) else {}
    if "content" in kwargs:
        headers["Content-Type"] = "application/json"

    response = intake.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"]
    assert error["message"]
    assert "Traceback" not in response.text


def test_invalid_form_lists_every_problem(intake: httpx.Client) -> None:
    body = {"procedure_id": "1.001193", "form_data": {"so_dinh_danh": "12", "so_ban_sao": "x"}}

    response = intake.post("/v1/dossiers", headers=citizen(), json=body)

    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert {"so_dinh_danh", "so_ban_sao", "ho_ten", "ho_ten_tre"} <= fields


def test_expired_or_forged_token_is_refused(intake: httpx.Client) -> None:
    forged = {"Authorization": "Bearer " + "x.y.z"}

    response = intake.get("/v1/me/dossiers", headers=forged)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_receipt_is_printable_html_with_qr_code(intake: httpx.Client) -> None:
    dossier_id = submit_birth(intake)
    code = intake.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer()).json()["code"]

    html = intake.get(f"/v1/dossiers/{code}/receipt.html", headers={"X-Id-Number": CITIZEN_ID})
    png = intake.get(f"/v1/dossiers/{code}/qr.png", headers={"X-Id-Number": CITIZEN_ID})

    assert html.status_code == 200
    assert code in html.text
    assert "Giấy tiếp nhận hồ sơ và hẹn trả kết quả" in html.text
    assert re.search(r"data:image/png;base64,[A-Za-z0-9+/=]{100,}", html.text)
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")


def test_completion_round_trip_then_acceptance(intake: httpx.Client) -> None:
    dossier_id = submit_birth(intake)
    intake.post(
        f"/v1/dossiers/{dossier_id}/request-completion",
        headers=officer(),
        json={"reason": "Giấy chứng sinh không rõ", "missing_documents": ["giay_chung_sinh"]},
    )
    view = intake.get(f"/v1/dossiers/{dossier_id}", headers=citizen()).json()

    resubmitted = intake.post(
        f"/v1/dossiers/{dossier_id}/resubmit",
        headers=citizen(),
        json={
            "form_data": view["form_data"],
            "documents": [
                {k: d[k] for k in ("document_id", "sha256", "filename")} for d in view["documents"]
            ],
        },
    )
    accepted = intake.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer())

    assert view["status"] == "completion_requested"
    assert resubmitted.status_code == 204
    assert accepted.status_code == 200


def test_counter_dossier_is_entered_by_officer_with_channel(intake: httpx.Client) -> None:
    dossier_id = submit_birth(intake, headers=officer(), channel="counter")

    view = intake.get(f"/v1/dossiers/{dossier_id}", headers=officer()).json()

    assert view["channel"] == "counter"
    assert view["timeline"][0]["by"] == "officer-1"


def test_applicant_can_withdraw_but_not_someone_else(intake: httpx.Client) -> None:
    dossier_id = submit_birth(intake)

    other = intake.post(
        f"/v1/dossiers/{dossier_id}/withdraw",
        headers=citizen("mallory"),
        json={"reason": "không muốn nữa"},
    )
    own = intake.post(
        f"/v1/dossiers/{dossier_id}/withdraw",
        headers=citizen(),
        json={"reason": "Nộp nhầm thủ tục"},
    )

    assert other.status_code == 404
    assert own.status_code == 204


def test_openapi_page_documents_every_route_with_the_error_body(intake: httpx.Client) -> None:
    spec = intake.get("/openapi.json")
    page = intake.get("/docs")

    assert spec.status_code == page.status_code == 200
    paths = spec.json()["paths"]
    assert {"/v1/procedures", "/v1/dossiers", "/v1/dossiers/{dossier_id}/accept"} <= set(paths)
    assert "ErrorBody" in spec.json()["components"]["schemas"]
