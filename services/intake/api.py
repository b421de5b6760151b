"""Intake's HTTP API: catalogue, attachments, submission, one-stop actions, lookup,
and the applicant's rating and feedback with the agency's answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import HTMLResponse

from motcua.core.errors import Invalid
from motcua.runtime.attachments import Attachment, UploadedFile, read_upload
from motcua.web.auth import Caller, CallerDep, OptionalCallerDep
from motcua.web.http import ERROR_RESPONSES, CorrelationIdDep, Limit, Offset, file_responses
from services.catalogue.procedures import Procedure
from services.intake.application import IntakeApplication
from services.intake.domain import Dossier
from services.intake.receipt import Receipt, make_receipt, qr_png, render_receipt_html
from services.intake.schemas import (
    Accepted,
    Answer,
    CompletionRequest,
    Created,
    DossierRow,
    DossierView,
    FeedbackCreated,
    FeedbackIn,
    FeedbackRow,
    ProcedureSummary,
    Rating,
    Reason,
    Resubmission,
    Submission,
)


def get_application(request: Request) -> IntakeApplication:
    app: IntakeApplication = request.app.state.intake
    return app


IntakeDep = Annotated[IntakeApplication, Depends(get_application)]


router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


# -- catalogue ----------------------------------------------------------------------


@router.get("/procedures", tags=["procedures"])
def list_procedures(
    intake: IntakeDep,
    q: Annotated[str | None, Query(description="Words; accents optional")] = None,
    sector: str | None = None,
    field: str | None = None,
    tier: Literal["province", "district", "commune"] | None = None,
    level: Annotated[int | None, Query(ge=1, le=4)] = None,
) -> list[ProcedureSummary]:
    """Search the procedure catalogue (diacritics-insensitive)."""
    found = intake.catalogue.search(q=q, sector=sector, field=field, tier=tier, level=level)
    return [
        ProcedureSummary(
            **p.model_dump(include=set(ProcedureSummary.model_fields) - {"receiving_agency"}),
            receiving_agency=p.receiving_agency.code,
        )
        for p in found
    ]


@router.get("/procedures/{procedure_id}", tags=["procedures"])
def get_procedure(intake: IntakeDep, procedure_id: str) -> Procedure:
    """One procedure with its level-1 items, form fields, documents, fees and process."""
    return intake.procedure(procedure_id)


# -- attachments --------------------------------------------------------------------


@router.post("/attachments", status_code=201, tags=["attachments"])
async def upload_attachment(request: Request, caller: CallerDep, file: UploadedFile) -> Attachment:
    """Upload one scanned document; reference it in a submission by its SHA-256."""
    caller.require("citizen", "officer")
    intake: IntakeApplication = request.app.state.intake
    data = await read_upload(file, request.app.state.settings.max_attachment_bytes)
    stored = await to_thread.run_sync(
        intake.store_attachment, data, file.content_type or "application/octet-stream", caller.sub
    )
    return Attachment(**stored)


@router.get("/attachments/{sha256}", tags=["attachments"])
def download_attachment(intake: IntakeDep, caller: CallerDep, sha256: str) -> Response:
    """Download an attachment (officers and admins)."""
    caller.require("officer", "admin")
    row = intake.attachments.get(sha256)
    return Response(row["data"], media_type=row["content_type"])


# -- dossiers -----------------------------------------------------------------------


@router.post("/dossiers", status_code=201, tags=["dossiers"])
def submit_dossier(
    intake: IntakeDep,
    caller: CallerDep,
    body: Submission,
    cid: CorrelationIdDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=8,
            max_length=100,
            description="Any unique string per submission (a UUID): a retry with the same "
            "key returns the dossier the first attempt created instead of a second one.",
        ),
    ] = None,
) -> Created:
    """Submit online (citizen), or enter a counter/post dossier (one-stop officer)."""
    dossier_id = intake.submit(
        caller,
        procedure_id=body.procedure_id,
        form_data=body.form_data,
        documents=[d.model_dump() for d in body.documents],
        channel=body.channel,
        notify_by=list(body.notify_by),
        applicant_account=body.applicant_account,
        idempotency_key=idempotency_key,
        correlation_id=cid,
    )
    return Created(id=dossier_id, status="submitted")


@router.get("/dossiers", tags=["dossiers"])
def agency_queue(
    intake: IntakeDep,
    caller: CallerDep,
    status: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[DossierRow]:
    """The one-stop queue of the officer's agency, oldest first; filter by status."""
    rows = intake.list_for_agency(caller, status, limit, offset)
    return [DossierRow.model_validate(r) for r in rows]


@router.get("/me/dossiers", tags=["dossiers"])
def my_dossiers(
    intake: IntakeDep, caller: CallerDep, limit: Limit = 50, offset: Offset = 0
) -> list[DossierRow]:
    """The caller's own dossiers, newest first."""
    caller.require("citizen")
    return [
        DossierRow.model_validate(r) for r in intake.list_for_applicant(caller.sub, limit, offset)
    ]


@router.get("/dossiers/{ref}", tags=["dossiers"])
def get_dossier(
    intake: IntakeDep,
    caller: OptionalCallerDep,
    ref: str,
    x_id_number: Annotated[
        str | None, Header(description="Without a token: the applicant's ID number")
    ] = None,
) -> DossierView:
    """Status and timeline by code or id; for the applicant, the agency, or code + ID number."""
    return DossierView.model_validate(intake.lookup(caller, ref, x_id_number))


@router.post("/dossiers/{dossier_id}/accept", tags=["one-stop"])
def accept_dossier(
    request: Request, intake: IntakeDep, caller: CallerDep, dossier_id: UUID, cid: CorrelationIdDep
) -> Accepted:
    """Accept the dossier: assigns its code and appointment date; returns the receipt."""
    code = intake.accept(caller, dossier_id, correlation_id=cid)
    dossier = intake.find(code, caller, None)
    return Accepted(code=code, receipt=make_receipt(intake, dossier, _base_url(request)))


@router.post("/dossiers/{dossier_id}/request-completion", status_code=204, tags=["one-stop"])
def request_completion(
    intake: IntakeDep,
    caller: CallerDep,
    dossier_id: UUID,
    body: CompletionRequest,
    cid: CorrelationIdDep,
) -> None:
    """Send the dossier back to the applicant to complete (with what is missing)."""
    intake.request_completion(
        caller,
        dossier_id,
        reason=body.reason,
        missing_documents=body.missing_documents,
        correlation_id=cid,
    )


@router.post("/dossiers/{dossier_id}/resubmit", status_code=204, tags=["dossiers"])
def resubmit_dossier(
    intake: IntakeDep,
    caller: CallerDep,
    dossier_id: UUID,
    body: Resubmission,
    cid: CorrelationIdDep,
) -> None:
    """Complete a dossier that was sent back; it awaits acceptance again."""
    intake.resubmit(
        caller,
        dossier_id,
        form_data=body.form_data,
        documents=[d.model_dump() for d in body.documents],
        correlation_id=cid,
    )


@router.post("/dossiers/{dossier_id}/refuse", status_code=204, tags=["one-stop"])
def refuse_dossier(
    intake: IntakeDep, caller: CallerDep, dossier_id: UUID, body: Reason, cid: CorrelationIdDep
) -> None:
    """Refuse the dossier at intake, with the reason the applicant will read."""
    intake.refuse(caller, dossier_id, reason=body.reason, correlation_id=cid)


@router.post("/dossiers/{dossier_id}/withdraw", status_code=204, tags=["dossiers"])
def withdraw_dossier(
    intake: IntakeDep, caller: CallerDep, dossier_id: UUID, body: Reason, cid: CorrelationIdDep
) -> None:
    """Withdraw one's own dossier."""
    intake.withdraw(caller, dossier_id, reason=body.reason, correlation_id=cid)


# -- rating and feedback (S-3, F-1) -----------------------------------------------

LookupIdNumber = Annotated[
    str | None, Header(description="Without a token: the applicant's ID number, with the code")
]


@router.post("/dossiers/{ref}/rating", status_code=204, tags=["rating and feedback"])
def rate_dossier(
    intake: IntakeDep,
    caller: OptionalCallerDep,
    ref: str,
    body: Rating,
    cid: CorrelationIdDep,
    x_id_number: LookupIdNumber = None,
) -> None:
    """Rate the service 1–5 once the result is out; once per dossier (409 after that).

    The applicant signs in, or (a counter applicant without an account) gives the
    dossier code as ``ref`` and their ID number, as for the public lookup.
    """
    intake.rate(
        caller, ref, x_id_number, rating=body.rating, comment=body.comment, correlation_id=cid
    )


@router.post("/dossiers/{ref}/feedback", status_code=201, tags=["rating and feedback"])
def send_feedback(
    intake: IntakeDep,
    caller: OptionalCallerDep,
    ref: str,
    body: FeedbackIn,
    cid: CorrelationIdDep,
    x_id_number: LookupIdNumber = None,
) -> FeedbackCreated:
    """Send feedback or a complaint about the dossier (phản ánh, kiến nghị), any time."""
    feedback_id = intake.send_feedback(
        caller, ref, x_id_number, kind=body.kind, text=body.text, correlation_id=cid
    )
    return FeedbackCreated(feedback_id=feedback_id)


@router.post(
    "/dossiers/{dossier_id}/feedback/{feedback_id}/answer",
    status_code=204,
    tags=["rating and feedback"],
)
def answer_feedback(
    intake: IntakeDep,
    caller: CallerDep,
    dossier_id: UUID,
    feedback_id: UUID,
    body: Answer,
    cid: CorrelationIdDep,
) -> None:
    """Answer a feedback, once, as an officer of the dossier's agency."""
    intake.answer_feedback(caller, dossier_id, feedback_id, answer=body.answer, correlation_id=cid)


@router.get("/feedback", tags=["rating and feedback"])
def feedback_queue(
    intake: IntakeDep,
    caller: CallerDep,
    answered: Annotated[bool, Query(description="true: the answered ones instead")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[FeedbackRow]:
    """Feedback to the officer's agency, oldest first (all agencies for an admin)."""
    rows = intake.feedback_queue(caller, answered, limit, offset)
    return [FeedbackRow.model_validate(r) for r in rows]


# -- receipt ------------------------------------------------------------------------


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
    return make_receipt(intake, _received(intake, ref, caller, x_id_number), _base_url(request))


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
    return HTMLResponse(render_receipt_html(make_receipt(intake, dossier, _base_url(request))))


@router.get(
    "/dossiers/{ref}/qr.png",
    response_class=Response,
    responses=file_responses("image/png", "The QR code"),
    tags=["receipt"],
)
def receipt_qr(
    intake: IntakeDep, caller: OptionalCallerDep, ref: str, x_id_number: ReceiptLookup = None
) -> Response:
    """A QR code (PNG) of the dossier code."""
    dossier = _received(intake, ref, caller, x_id_number)
    assert dossier.code is not None
    return Response(qr_png(dossier.code), media_type="image/png")


@router.get("/prefill", tags=["dossiers"])
def prefill(
    intake: IntakeDep, caller: CallerDep, procedure: Annotated[str, Query()]
) -> dict[str, dict[str, Any]]:
    """Values for the procedure's form from the account and the caller's earlier dossiers."""
    return intake.prefill(caller, procedure)


def _base_url(request: Request) -> str:
    configured: str = request.app.state.settings.public_base_url
    return configured.rstrip("/")
