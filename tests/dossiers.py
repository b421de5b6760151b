"""Test helpers that act as the portal's users over HTTP: citizens and one-stop officers."""

from __future__ import annotations

from typing import Any

import httpx

from motcua.auth import issue_token
from motcua.settings import DEV_JWT_SECRET

BIRTH = "1.001193"  # Đăng ký khai sinh, commune level, level 4
BIRTH_AGENCY = "001.20.51.H23"
CITIZEN_ID = "001190000001"


def citizen(sub: str = "citizen-1", id_number: str = CITIZEN_ID, **claims: Any) -> dict[str, str]:
    token = issue_token(
        DEV_JWT_SECRET,
        sub=sub,
        role="citizen",
        name="NGUYỄN THỊ LAN",
        id_number=id_number,
        **claims,
    )
    return {"Authorization": f"Bearer {token}"}


def officer(agency: str = BIRTH_AGENCY, sub: str = "officer-1") -> dict[str, str]:
    token = issue_token(DEV_JWT_SECRET, sub=sub, role="officer", agency=agency)
    return {"Authorization": f"Bearer {token}"}


def birth_form(id_number: str = CITIZEN_ID) -> dict[str, Any]:
    return {
        "ho_ten": "NGUYỄN THỊ LAN",
        "so_dinh_danh": id_number,
        "so_dien_thoai": "0912000001",
        "email": "lan@example.vn",
        "ho_ten_tre": "TRẦN MINH AN",
        "ngay_sinh_tre": "2026-11-01",
        "gioi_tinh_tre": "Nữ",
        "so_ban_sao": 2,
    }


def submit_birth(
    client: httpx.Client,
    headers: dict[str, str] | None = None,
    id_number: str = CITIZEN_ID,
    channel: str = "online",
) -> str:
    """Upload the required documents and submit a birth registration; return the id."""
    headers = headers or citizen(id_number=id_number)
    upload = client.post(
        "/v1/attachments",
        headers=headers,
        files={"file": ("scan.pdf", b"%PDF-1.4 birth", "application/pdf")},
    )
    assert upload.status_code == 201, upload.text
    procedure = client.get(f"/v1/procedures/{BIRTH}").json()
    documents = [
        {"document_id": d["id"], "sha256": upload.json()["sha256"], "filename": "a.pdf"}
        for d in procedure["documents"]
        if d["required"]
    ]
    response = client.post(
        "/v1/dossiers",
        headers=headers,
        json={
            "procedure_id": BIRTH,
            "form_data": birth_form(id_number),
            "documents": documents,
            "channel": channel,
            "notify_by": ["email", "sms"],
        },
    )
    assert response.status_code == 201, response.text
    dossier_id: str = response.json()["id"]
    return dossier_id
