"""Acceptance at the one-stop and what it hands the applicant: the receipt (giấy tiếp
nhận và hẹn trả kết quả) as JSON, printable HTML and QR code (tags ``one-stop`` and
``receipt``)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import HTMLResponse

from motcua.core.errors import Invalid
from motcua.web.auth import Caller, CallerDep, OptionalCallerDep
from motcua.web.http import CorrelationIdDep, file_responses
from services.intake.application import IntakeApplication
from services.intake.domain import Dossier
from services.intake.receipt import (
    Receipt,
    lookup_url,
    make_receipt,
    qr_png,
    render_receipt_html,
)
from services.intake.routes.common import IntakeDep, base_url, province
from services.intake.schemas import Accepted

router = APIRouter()


@router.post("/dossiers/{dossier_id}/accept", tags=["one-stop"])
def accept_dossier(
    request: Request, intake: IntakeDep, caller: CallerDep, dossier_id: UUID, cid: CorrelationIdDep
) -> Accepted:
    """Accept the dossier: assigns its code and appointment date; returns the receipt."""
    code = intake.accept(caller, dossier_id, correlation_id=cid)
    dossier = intake.find(code, caller, None)
    return Accepted(
        code=code, receipt=make_receipt(intake, dossier, base_url(request), province(request))
    )


ReceiptLookup = Annotated[str | None, Header(description="Without a token: the ID number")]


def _received(
    intake: IntakeApplication, ref: str, caller: Caller | None, idn: str | None
) -> Dossier:
    dossier = intake.find(ref, caller, idn)
    if dossier.code is None:
        raise Invalid("the dossier has not been accepted yet; it has no receipt")
    return dossier


@router.get("/dossiers/{ref}/receipt", tags=["receipt"])
def receipt_json(
    request: Request,
    intake: IntakeDep,
    caller: OptionalCallerDep,
    ref: str,
    x_id_number: ReceiptLookup = None,
) -> Receipt:
    """The receipt (giấy tiếp nhận và hẹn trả kết quả) as JSON."""
    return make_receipt(
        intake, _received(intake, ref, caller, x_id_number), base_url(request), province(request)
    )


@router.get(
    "/dossiers/{ref}/receipt.html",
    response_class=Response,
    responses=file_responses("text/html", "The receipt, to print"),
    tags=["receipt"],
)
def receipt_html(
    request: Request,
    intake: IntakeDep,
    caller: OptionalCallerDep,
    ref: str,
    x_id_number: ReceiptLookup = None,
) -> HTMLResponse:
    """The receipt as a printable HTML page with the QR code."""
    dossier = _received(intake, ref, caller, x_id_number)
    return HTMLResponse(
        render_receipt_html(make_receipt(intake, dossier, base_url(request), province(request)))
    )


@router.get(
    "/dossiers/{ref}/qr.png",
    response_class=Response,
    responses=file_responses("image/png", "The QR code"),
    tags=["receipt"],
)
def receipt_qr(
    request: Request,
    intake: IntakeDep,
    caller: OptionalCallerDep,
    ref: str,
    x_id_number: ReceiptLookup = None,
) -> Response:
    """A QR code (PNG) of the public lookup page of the dossier's code."""
    dossier = _received(intake, ref, caller, x_id_number)
    assert dossier.code is not None
    return Response(qr_png(lookup_url(base_url(request), dossier.code)), media_type="image/png")
