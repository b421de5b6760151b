"""The receipt (giấy tiếp nhận hồ sơ và hẹn trả kết quả, I-2) as JSON, HTML and QR code."""

from __future__ import annotations

import base64
import io
from datetime import date, datetime
from functools import cache

import qrcode
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel
from qrcode.image.pure import PyPNGImage

from motcua.core.calendar import VIETNAM_TZ
from services.intake.application import IntakeApplication
from services.intake.domain import Dossier


class ReceivedDocument(BaseModel):
    document_id: str
    name: str
    filename: str
    sha256: str


class Receipt(BaseModel):
    code: str
    dossier_id: str
    procedure_id: str
    procedure_name: str
    agency_code: str
    agency_name: str
    applicant_name: str
    channel: str
    received_at: datetime
    appointment_date: date
    time_limit_working_days: int
    received_by: str
    documents: list[ReceivedDocument]
    lookup_url: str
    qr_png_url: str


def make_receipt(intake: IntakeApplication, dossier: Dossier, base_url: str) -> Receipt:
    """The receipt of an accepted dossier; times in Asia/Ho_Chi_Minh."""
    assert dossier.code is not None
    assert dossier.received_at is not None
    assert dossier.appointment_date is not None
    procedure = intake.catalogue.get(dossier.procedure_id)
    names = {d.id: d.name for d in procedure.documents} if procedure else {}
    return Receipt(
        code=dossier.code,
        dossier_id=str(dossier.id),
        procedure_id=dossier.procedure_id,
        procedure_name=dossier.procedure_name,
        agency_code=dossier.agency_code,
        agency_name=procedure.receiving_agency.name if procedure else dossier.agency_code,
        applicant_name=dossier.applicant["full_name"],
        channel=dossier.channel,
        received_at=dossier.received_at.astimezone(VIETNAM_TZ),
        appointment_date=dossier.appointment_date,
        time_limit_working_days=dossier.time_limit_working_days or 0,
        received_by=dossier.received_by or "",
        documents=[
            ReceivedDocument(
                document_id=d["document_id"],
                name=names.get(d["document_id"], d["document_id"]),
                filename=d["filename"],
                sha256=d["sha256"],
            )
            for d in dossier.documents
        ],
        lookup_url=f"{base_url}/v1/dossiers/{dossier.code}",
        qr_png_url=f"{base_url}/v1/dossiers/{dossier.code}/qr.png",
    )


def qr_png(text: str) -> bytes:
    """A QR code of ``text`` as PNG bytes (pure Python, no imaging library needed)."""
    buffer = io.BytesIO()
    qrcode.make(text, image_factory=PyPNGImage, box_size=6, border=2).save(buffer)
    return buffer.getvalue()


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("services.intake", "templates"),
        autoescape=select_autoescape(["html"]),
    )


def render_receipt_html(receipt: Receipt) -> str:
    qr = base64.b64encode(qr_png(receipt.code)).decode()
    return _templates().get_template("receipt.html").render(r=receipt, qr_data=qr)
