"""The receipt as Mẫu số 01 (Circular 01/2018/TT-VPCP) and the public lookup page its QR
code opens, through intake's HTTP API in process on its real store, the clock injected
as the demo does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devtools.demo.client import APPLICANTS, PDF, DemoClient, sample_form
from motcua.runtime.settings import Settings
from services.intake.receipt import qr_png
from tests.support.apps import demo_over, intake_client

MARITAL = "1.004873"  # 3 working days; the form asks for the applicant's address
BIRTH = "1.001193"  # 1 working day; results returned online
BASE = "http://intake.example.vn"
MONDAY_15H = "2026-03-02T15:00:00+07:00"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    (tmp_path / "now").write_text(MONDAY_15H)
    settings = Settings(
        var_dir=tmp_path / "var",
        clock_file=tmp_path / "now",
        public_base_url=BASE,
        province="Đồng Tháp",
    )
    return intake_client(settings)


@pytest.fixture
def demo(client: TestClient) -> DemoClient:
    return demo_over(client)


def at_the_counter_with_every_document(demo: DemoClient) -> tuple[str, str, dict[str, Any]]:
    """A marital-status dossier entered at the counter with its optional copy too;
    returns its id, agency and form."""
    a = APPLICANTS[1]
    procedure = demo.call("GET", f"/v1/procedures/{MARITAL}", {})
    agency = procedure["receiving_agency"]["code"]
    officer = demo.officer(agency)
    upload = demo.call(
        "POST", "/v1/attachments", officer, files={"file": ("a.pdf", PDF, "application/pdf")}
    )
    documents = [
        {"document_id": d["id"], "sha256": upload["sha256"], "filename": f"{d['id']}.pdf"}
        for d in procedure["documents"]
        if d["required"] or d["id"] == "giay_to_chung_minh_ly_hon"
    ]
    form = {**sample_form(procedure, a), "dia_chi": "Số 12, ấp Tân Hòa, xã Tân Phú"}
    body = {"procedure_id": MARITAL, "form_data": form, "documents": documents}
    created = demo.call("POST", "/v1/dossiers", officer, json={**body, "channel": "counter"})
    return created["id"], agency, form


def test_the_receipt_has_every_field_of_the_form(demo: DemoClient) -> None:
    dossier_id, agency, form = at_the_counter_with_every_document(demo)

    accepted = demo.call("POST", f"/v1/dossiers/{dossier_id}/accept", demo.officer(agency))
    r = accepted["receipt"]

    assert r["governing_body"] == "Ủy ban nhân dân tỉnh Đồng Tháp"
    assert (r["agency_code"], r["agency_name"]) == (agency, "Ủy ban nhân dân xã Tân Phú")
    assert r["place"] == "Đồng Tháp"
    assert (r["applicant_name"], r["applicant_address"]) == (form["ho_ten"], form["dia_chi"])
    assert (r["applicant_phone"], r["applicant_email"]) == (form["so_dien_thoai"], form["email"])
    assert [(d["document_id"], d["form"], d["copies"]) for d in r["documents"]] == [
        ("to_khai_xac_nhan_tthn", "bản chính", 1),
        ("giay_to_chung_minh_ly_hon", "bản sao", 1),
        ("giay_to_tuy_than", "bản chính", 1),
    ]
    assert (r["sets"], r["time_limit_working_days"]) == (1, 3)
    assert r["received_at"] == MONDAY_15H
    # Monday 15:00 + 3 working days of 7.5 h: the same hour on Thursday.
    assert (r["appointment_date"], r["appointment_at"]) == (
        "2026-03-05",
        "2026-03-05T15:00:00+07:00",
    )
    assert (
        r["result_collected_at"] == "Bộ phận tiếp nhận và trả kết quả, Ủy ban nhân dân xã Tân Phú"
    )
    assert r["register_entry"] == {"book": "2026-03-02", "number": 1}
    assert r["code"] == f"{agency}-260302-0001"
    assert r["lookup_url"] == f"{BASE}/lookup?code={r['code']}"


def test_online_documents_are_electronic_and_the_result_is_returned_online(
    demo: DemoClient,
) -> None:
    dossier_id, agency = demo.submit(APPLICANTS[0], BIRTH, "online")

    r = demo.call("POST", f"/v1/dossiers/{dossier_id}/accept", demo.officer(agency))["receipt"]

    assert {d["form"] for d in r["documents"]} == {"bản điện tử"}
    assert r["result_collected_at"].startswith("Trực tuyến")
    assert r["appointment_at"] == "2026-03-03T15:00:00+07:00"  # one working day


def test_the_printed_receipt_is_two_a4_copies_with_hours_and_signatures(
    client: TestClient, demo: DemoClient
) -> None:
    dossier_id, agency, form = at_the_counter_with_every_document(demo)
    code = demo.call("POST", f"/v1/dossiers/{dossier_id}/accept", demo.officer(agency))["code"]

    page = client.get(f"/v1/dossiers/{code}/receipt.html", headers=demo.officer(agency))

    assert page.status_code == 200
    html = page.text
    assert "size: A4" in html
    assert re.findall(r'data-copy="(\d)"', html) == ["1", "2"]
    for text in (
        "BỘ PHẬN TIẾP NHẬN VÀ TRẢ KẾT QUẢ",
        "Đồng Tháp, ngày 02 tháng 03 năm 2026",
        "15 giờ 00 phút, ngày 02 tháng 03 năm 2026",  # received
        "15 giờ 00 phút, ngày 05 tháng 03 năm 2026",  # to be returned
        form["dia_chi"],
        "Quyển số: <span",
        "NGƯỜI NỘP HỒ SƠ",
        "NGƯỜI TIẾP NHẬN HỒ SƠ",
        "02 liên",
    ):
        assert text in html or text in html.upper(), text


def test_the_qr_code_opens_the_public_lookup_page_of_the_code(
    client: TestClient, demo: DemoClient
) -> None:
    dossier_id, agency = demo.submit(APPLICANTS[0], BIRTH, "online")
    code = demo.call("POST", f"/v1/dossiers/{dossier_id}/accept", demo.officer(agency))["code"]

    png = client.get(f"/v1/dossiers/{code}/qr.png", headers=demo.officer(agency))
    form = client.get(f"/lookup?code={code}")

    assert png.content == qr_png(f"{BASE}/lookup?code={code}")
    assert form.status_code == 200
    assert f'name="code" value="{code}"' in form.text


def test_the_lookup_page_shows_the_status_and_the_return_time_with_its_hour(
    client: TestClient, demo: DemoClient
) -> None:
    dossier_id, agency = demo.submit(APPLICANTS[0], BIRTH, "online")
    code = demo.call("POST", f"/v1/dossiers/{dossier_id}/accept", demo.officer(agency))["code"]
    id_number = APPLICANTS[0].id_number

    page = client.post("/lookup", data={"code": code, "id_number": id_number})
    answer = client.get(f"/v1/dossiers/{code}", headers={"X-Id-Number": id_number}).json()

    assert page.status_code == 200
    assert 'data-status="received"' in page.text
    assert "15 giờ 00, ngày 03/03/2026" in page.text
    assert 'data-event="Received"' in page.text
    assert answer["appointment_at"] == "2026-03-03T15:00:00+07:00"
    assert "form_data" not in page.text
    assert APPLICANTS[0].phone not in page.text


def test_a_wrong_id_number_on_the_lookup_page_says_nothing_of_the_dossier(
    client: TestClient, demo: DemoClient
) -> None:
    dossier_id, agency = demo.submit(APPLICANTS[0], BIRTH, "online")
    code = demo.call("POST", f"/v1/dossiers/{dossier_id}/accept", demo.officer(agency))["code"]

    wrong = client.post("/lookup", data={"code": code, "id_number": "079200000999"})
    unknown = client.post("/lookup", data={"code": "nothing-here", "id_number": "079200000999"})

    assert (wrong.status_code, unknown.status_code) == (404, 404)
    assert 'data-field="not_found"' in wrong.text
    assert APPLICANTS[0].name not in wrong.text
    assert wrong.text.replace(code, "X") == unknown.text.replace("nothing-here", "X")
