"""Test helpers that act as the portal's users over HTTP: citizens and one-stop officers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from motcua.core.clock import Clock
from motcua.runtime.relay import OutboxRelay
from motcua.runtime.settings import DEV_JWT_SECRET
from motcua.runtime.store import store_env
from motcua.web.auth import Caller, issue_token
from services.catalogue.procedures import STEP_ROLES, load_catalogue
from services.intake.application import IntakeApplication
from services.intake.to_contract import IntakePublisher

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


def officer(
    agency: str = BIRTH_AGENCY, sub: str = "officer-1", step_roles: tuple[str, ...] = STEP_ROLES
) -> dict[str, str]:
    """An officer of ``agency``, by default holding every step role (one-stop officer,
    specialist, leader): the tests that are not about step roles act on any step."""
    token = issue_token(
        DEV_JWT_SECRET, sub=sub, role="officer", agency=agency, step_roles=list(step_roles)
    )
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
    **extra: Any,
) -> str:
    """Upload the required documents and submit a birth registration, with the ``extra``
    fields of the submission; return the id."""
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
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    dossier_id: str = response.json()["id"]
    return dossier_id


# -- in process, for store-level tests and the benchmark ---------------------------------

CITIZEN = Caller(sub="citizen-1", role="citizen")


def make_intake(
    database_url: str | None, var_dir: Path, clock: Clock | None = None
) -> IntakeApplication:
    var_dir.mkdir(exist_ok=True)
    return IntakeApplication(
        store_env(database_url, str(var_dir), "intake"), catalogue=load_catalogue(), clock=clock
    )


def submit(intake: IntakeApplication) -> uuid.UUID:
    sha = intake.store_attachment(b"scan", "application/pdf", CITIZEN.sub)["sha256"]
    procedure = load_catalogue().get(BIRTH)
    assert procedure is not None
    documents = [
        {"document_id": d.id, "sha256": sha, "filename": "a.pdf"}
        for d in procedure.documents
        if d.required
    ]
    return intake.submit(
        CITIZEN,
        procedure_id=BIRTH,
        form_data=birth_form(),
        documents=documents,
        channel="online",
        notify_by=["sms"],
        correlation_id="t",
    )


def intake_relay(intake: IntakeApplication, producer: AIOKafkaProducer, topic: str) -> OutboxRelay:
    return OutboxRelay(
        intake,
        intake.store,
        producer,
        name="intake",
        topic=topic,
        to_contract=IntakePublisher(intake),
    )
