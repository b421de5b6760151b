"""The receipt (giấy tiếp nhận hồ sơ và hẹn trả kết quả, I-2) as JSON, HTML and QR code.

Laid out as Mẫu số 01 of Circular 01/2018/TT-VPCP: the governing body and the unit
above the title, the place and date line, the applicant with address, phone and
e-mail, the documents with their form (original, copy, electronic) and count, the
number of sets, the time limit, the receipt and return times with hour and minute,
where the result is collected, the register entry, both signatures, and two copies on
A4 (one for the applicant, one kept with the dossier). Its QR code opens the public
lookup page of the code.

The register entry is the code's own daily sequence: each receiving unit numbers its
dossiers gap-free per day (``DailySequence``), so the day is the book and the sequence
its entry; nothing else needs to be kept for it.
"""

from __future__ import annotations

import base64
import io
from datetime import date, datetime
from functools import cache
from urllib.parse import quote

import qrcode
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field
from qrcode.image.pure import PyPNGImage

from motcua.core.calendar import VIETNAM_TZ
from services.catalogue.procedures import Procedure
from services.intake.application import IntakeApplication
from services.intake.domain import Dossier

# Form fields that hold the applicant's own address, in the catalogue's forms.
ADDRESS_FIELDS = ("dia_chi", "dia_chi_thuong_tru", "noi_cu_tru")
CHANNELS = {"online": "trực tuyến", "counter": "trực tiếp", "post": "qua bưu chính"}


class ReceivedDocument(BaseModel):
    document_id: str
    name: str
    filename: str
    sha256: str
    form: str = Field(description="bản chính, bản sao or bản điện tử (submitted online)")
    copies: int = Field(description="How many of it the procedure asks for")


class Register(BaseModel):
    """The entry in the unit's register of dossiers (Sổ theo dõi hồ sơ)."""

    book: date = Field(description="The day's book: the code's daily sequence")
    number: int = Field(description="The entry: the code's sequence number that day")


class Receipt(BaseModel):
    code: str
    dossier_id: str
    governing_body: str = Field(description="Tên cơ quan chủ quản, above the agency")
    agency_code: str
    agency_name: str
    place: str = Field(description="The place of the date line")
    procedure_id: str
    procedure_name: str
    applicant_name: str
    applicant_address: str | None
    applicant_phone: str | None
    applicant_email: str | None
    channel: str
    documents: list[ReceivedDocument]
    sets: int = Field(description="Số lượng hồ sơ (bộ): one dossier is one set")
    time_limit_working_days: int
    received_at: datetime = Field(description="Vietnam time, to the minute")
    appointment_date: date
    appointment_at: datetime | None = Field(
        description="The return time with its hour (Vietnam time); null for a receipt "
        "issued before working hours were counted"
    )
    result_collected_at: str = Field(description="Where the applicant collects the result")
    register_entry: Register
    received_by: str
    lookup_url: str = Field(description="The public lookup page of the code (the QR code's)")
    qr_png_url: str


def make_receipt(
    intake: IntakeApplication, dossier: Dossier, base_url: str, province: str
) -> Receipt:
    """The receipt of an accepted dossier; times in Asia/Ho_Chi_Minh."""
    assert dossier.code is not None
    assert dossier.received_at is not None
    assert dossier.appointment_date is not None
    procedure = intake.catalogue.get(dossier.procedure_id)
    agency_name = procedure.receiving_agency.name if procedure else dossier.agency_code
    applicant, form = dossier.applicant, dossier.form_data or {}
    address = next((str(form[f]) for f in ADDRESS_FIELDS if form.get(f)), None)
    appointment_at = dossier.appointment_at
    return Receipt(
        code=dossier.code,
        dossier_id=str(dossier.id),
        governing_body=f"Ủy ban nhân dân tỉnh {province}",
        agency_code=dossier.agency_code,
        agency_name=agency_name,
        place=province,
        procedure_id=dossier.procedure_id,
        procedure_name=dossier.procedure_name,
        applicant_name=applicant["full_name"],
        applicant_address=address,
        applicant_phone=applicant.get("phone"),
        applicant_email=applicant.get("email"),
        channel=dossier.channel,
        documents=_documents(dossier, procedure),
        sets=1,
        time_limit_working_days=dossier.time_limit_working_days or 0,
        received_at=dossier.received_at.astimezone(VIETNAM_TZ),
        appointment_date=dossier.appointment_date,
        appointment_at=appointment_at.astimezone(VIETNAM_TZ) if appointment_at else None,
        result_collected_at=_collected_at(dossier.channel, procedure, agency_name),
        register_entry=_register(dossier.code, dossier.received_at),
        received_by=dossier.received_by or "",
        lookup_url=lookup_url(base_url, dossier.code),
        qr_png_url=f"{base_url}/v1/dossiers/{dossier.code}/qr.png",
    )


def lookup_url(base_url: str, code: str) -> str:
    """The public lookup page of ``code``: what the receipt's QR code opens."""
    return f"{base_url}/lookup?code={quote(code)}"


def _documents(dossier: Dossier, procedure: Procedure | None) -> list[ReceivedDocument]:
    required = {d.id: d for d in procedure.documents} if procedure else {}
    documents = []
    for d in dossier.documents:
        spec = required.get(d["document_id"])
        if dossier.channel == "online":
            form = "bản điện tử"
        else:
            form = "bản chính" if spec is not None and spec.original else "bản sao"
        documents.append(
            ReceivedDocument(
                document_id=d["document_id"],
                name=spec.name if spec else d["document_id"],
                filename=d["filename"],
                sha256=d["sha256"],
                form=form,
                copies=spec.copies if spec else 1,
            )
        )
    return documents


def _collected_at(channel: str, procedure: Procedure | None, agency_name: str) -> str:
    """Where the result goes: online to the applicant's account where the procedure
    returns results online, by post for a dossier sent by post where it returns them by
    post, else at the unit that received it."""
    methods = [m.lower() for m in procedure.result_return_methods] if procedure else []
    if channel == "online" and any(m.startswith("trực tuyến") for m in methods):
        return "Trực tuyến, trên tài khoản Cổng dịch vụ công của người nộp hồ sơ"
    if channel == "post" and any("bưu chính" in m for m in methods):
        return "Qua dịch vụ bưu chính công ích, tại địa chỉ người nộp hồ sơ đã đăng ký"
    return f"Bộ phận tiếp nhận và trả kết quả, {agency_name}"


def _register(code: str, received_at: datetime) -> Register:
    """The code's day and sequence: ``<agency>-YYMMDD-XXXX`` (I-1)."""
    return Register(book=received_at.astimezone(VIETNAM_TZ).date(), number=int(code[-4:]))


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
    """Two copies on A4: one for the applicant, one kept with the dossier."""
    qr = base64.b64encode(qr_png(receipt.lookup_url)).decode()
    return (
        _templates()
        .get_template("receipt.html")
        .render(r=receipt, qr_data=qr, channels=CHANNELS, copies=("1", "2"))
    )
