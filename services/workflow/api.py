"""Workflow's HTTP API: the agency queue, officer actions, supplements, the timeline."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Depends, Header, Query, Request, Response

from motcua.core.errors import Invalid
from motcua.runtime.attachments import Attachment, UploadedFile, read_upload
from motcua.web.auth import CallerDep, OptionalCallerDep
from motcua.web.http import (
    ERROR_RESPONSES,
    CorrelationIdDep,
    ErrorBody,
    Limit,
    Offset,
    file_responses,
)
from services.workflow.application import WorkflowApplication
from services.workflow.schemas import (
    Apology,
    CalendarInForce,
    Claim,
    Decision,
    QueueRow,
    Reason,
    Result,
    ResultCheck,
    Returned,
    StepDone,
    Supplement,
    SupplementRequest,
    Timeline,
)


def get_application(request: Request) -> WorkflowApplication:
    app: WorkflowApplication = request.app.state.workflow
    return app


WorkflowDep = Annotated[WorkflowApplication, Depends(get_application)]


router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@router.get("/queue", tags=["queue"])
def agency_queue(
    workflow: WorkflowDep,
    caller: CallerDep,
    step: str | None = None,
    due_within_days: Annotated[int | None, Query(ge=0, le=60)] = None,
    overdue: bool | None = None,
    status: str | None = None,
    can_act: Annotated[
        bool | None,
        Query(description="true: only the steps you may act on now (in progress, your role)"),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[QueueRow]:
    """Dossiers now at the officer's agency, earliest deadline first; ``can_act`` on each
    says whether the caller holds the current step's role (and it is in progress)."""
    rows = workflow.queue(
        caller,
        step=step,
        due_within_days=due_within_days,
        overdue=overdue,
        status=status,
        limit=limit,
        offset=offset,
        can_act=can_act,
    )
    return [QueueRow.model_validate(r) for r in rows]


@router.get("/dossiers/{ref}/timeline", tags=["timeline"])
def timeline(workflow: WorkflowDep, caller: CallerDep, ref: str) -> Timeline:
    """Every step with agency, officer, start, due, end, pauses and overdue marks."""
    return Timeline.model_validate(workflow.timeline(caller, ref))


@router.get("/calendar", tags=["calendar"])
def working_calendar(workflow: WorkflowDep) -> CalendarInForce:
    """The working calendar the deadlines are counted in here: the version of the last
    change consumed from intake (which owns it), the sessions and the entered days."""
    calendar = workflow.calendar()
    return CalendarInForce(
        version=calendar.version,
        sessions=[
            {"start": f"{s.start:%H:%M}", "end": f"{s.end:%H:%M}"} for s in calendar.sessions
        ],
        entered=dict(sorted(calendar.days.items())),
    )


@router.post("/attachments", status_code=201, tags=["attachments"])
async def upload(request: Request, caller: CallerDep, file: UploadedFile) -> Attachment:
    """Upload a supplement or an electronic result; reference it by its SHA-256."""
    caller.require("citizen", "officer")
    workflow: WorkflowApplication = request.app.state.workflow
    data = await read_upload(file, request.app.state.settings.max_attachment_bytes)
    content_type = file.content_type or "application/octet-stream"
    stored = await to_thread.run_sync(
        lambda: workflow.attachments.put(data, content_type, caller.sub, workflow.clock())
    )
    return Attachment(**stored)


@router.post("/dossiers/{dossier_id}/claim", status_code=204, tags=["officer"])
def claim(
    workflow: WorkflowDep, caller: CallerDep, dossier_id: UUID, body: Claim, cid: CorrelationIdDep
) -> None:
    """Take the current step (or assign it to a colleague of the same agency)."""
    workflow.claim(caller, dossier_id, body.officer, cid)


@router.post("/dossiers/{dossier_id}/complete-step", status_code=204, tags=["officer"])
def complete_step(
    workflow: WorkflowDep,
    caller: CallerDep,
    dossier_id: UUID,
    body: StepDone,
    cid: CorrelationIdDep,
) -> None:
    """Finish the current step, with notes and optional documents."""
    workflow.complete_step(
        caller, dossier_id, body.notes, [d.model_dump() for d in body.documents], cid
    )


@router.post("/dossiers/{dossier_id}/hand-over", status_code=204, tags=["officer"])
def hand_over(
    workflow: WorkflowDep, caller: CallerDep, dossier_id: UUID, cid: CorrelationIdDep
) -> None:
    """Send the dossier to the agency of the next step."""
    workflow.hand_over(caller, dossier_id, cid)


@router.post("/dossiers/{dossier_id}/request-supplement", status_code=204, tags=["officer"])
def request_supplement(
    workflow: WorkflowDep,
    caller: CallerDep,
    dossier_id: UUID,
    body: SupplementRequest,
    cid: CorrelationIdDep,
) -> None:
    """Ask the applicant for documents; the clock pauses until they arrive."""
    workflow.request_supplement(caller, dossier_id, body.reason, body.documents, cid)


@router.post("/dossiers/{dossier_id}/approve", status_code=204, tags=["officer"])
def approve(
    workflow: WorkflowDep,
    caller: CallerDep,
    dossier_id: UUID,
    body: Decision,
    cid: CorrelationIdDep,
) -> None:
    """Approve the dossier (the decision of the agency holding it)."""
    workflow.approve(caller, dossier_id, body.notes, cid)


@router.post("/dossiers/{dossier_id}/reject", status_code=204, tags=["officer"])
def reject(
    workflow: WorkflowDep, caller: CallerDep, dossier_id: UUID, body: Reason, cid: CorrelationIdDep
) -> None:
    """Reject the dossier with the reason the applicant will read."""
    workflow.reject(caller, dossier_id, body.reason, cid)


@router.post("/dossiers/{dossier_id}/result", status_code=204, tags=["officer"])
def issue_result(
    workflow: WorkflowDep, caller: CallerDep, dossier_id: UUID, body: Result, cid: CorrelationIdDep
) -> None:
    """Issue the result (last step; approved; fee paid where due before the result).

    An electronic result is a PDF: workflow signs an unsigned one with the agency's
    certificate (the issued document is the signed file), and refuses with 422 one whose
    signature does not hold or a file that is not a PDF."""
    if body.kind == "electronic" and body.document is None:
        raise Invalid("an electronic result needs its document (upload it first)")
    ref = body.document.model_dump() if body.document else None
    workflow.issue_result(caller, dossier_id, body.kind, ref, cid)


@router.post("/dossiers/{dossier_id}/returned", status_code=204, tags=["officer"])
def returned(
    workflow: WorkflowDep,
    caller: CallerDep,
    dossier_id: UUID,
    body: Returned,
    cid: CorrelationIdDep,
) -> None:
    """Record that the result reached the applicant."""
    workflow.record_returned(caller, dossier_id, body.method, cid)


@router.post("/dossiers/{dossier_id}/apology", status_code=204, tags=["officer"])
def apology(
    workflow: WorkflowDep, caller: CallerDep, dossier_id: UUID, body: Apology, cid: CorrelationIdDep
) -> None:
    """The written apology for a late dossier, with the new appointment date."""
    workflow.apologise(caller, dossier_id, body.reason, body.appointment_date, cid)


@router.post("/dossiers/{dossier_id}/supplement", status_code=204, tags=["applicant"])
def supplement(
    workflow: WorkflowDep,
    caller: CallerDep,
    dossier_id: UUID,
    body: Supplement,
    cid: CorrelationIdDep,
) -> None:
    """The applicant supplies the requested documents; the clock resumes."""
    workflow.provide_supplement(caller, dossier_id, [d.model_dump() for d in body.documents], cid)


@router.post("/dossiers/{dossier_id}/withdraw", status_code=204, tags=["applicant"])
def withdraw(
    workflow: WorkflowDep, caller: CallerDep, dossier_id: UUID, body: Reason, cid: CorrelationIdDep
) -> None:
    """The applicant withdraws a dossier in process, before its result."""
    workflow.withdraw(caller, dossier_id, body.reason, cid)


# -- the electronic result (W-5) ------------------------------------------------------

LookupIdNumber = Annotated[
    str | None,
    Header(description="Without a token: the applicant's ID number, with the dossier code"),
]
Sha256 = Annotated[
    str, Query(pattern=r"^[0-9a-fA-F]{64}$", description="The document's SHA-256, in hex")
]


@router.get(
    "/dossiers/{ref}/result/document",
    response_class=Response,
    responses={
        **file_responses(
            "*/*", "The electronic result, in the type it was issued in (usually application/pdf)"
        ),
        404: {
            "model": ErrorBody,
            "description": "No dossier matches (the same answer for an unknown code and for "
            "anyone but the applicant), or it has no electronic result (yet)",
        },
    },
    tags=["applicant"],
)
def result_document(
    workflow: WorkflowDep, caller: OptionalCallerDep, ref: str, x_id_number: LookupIdNumber = None
) -> Response:
    """Download the electronic result: the applicant with their token (``ref``: the
    dossier's id or code), or with the dossier's code as ``ref`` and their ID number in
    ``X-Id-Number``; also officers of the agency holding the dossier and admins.

    Anyone else gets the same 404 as for an unknown code.
    """
    document = workflow.result_document(caller, ref, x_id_number)
    return Response(
        document["data"],
        media_type=document["content_type"],
        headers={
            "Content-Disposition": _attachment(document["filename"]),
            "ETag": f'"{document["sha256"]}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _attachment(filename: str) -> str:
    """``Content-Disposition`` for a download named ``filename`` (RFC 6266, any script)."""
    plain = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/dossiers/{code}/result/verify", tags=["verification"])
def check_result(workflow: WorkflowDep, code: str, sha256: Sha256) -> ResultCheck:
    """Is the document with this SHA-256 the electronic result issued under ``code``?

    For anyone holding a copy and its code (a bank, a school, another agency); no
    token needed, and nothing personal in the answer. When it is, the issued document's
    signature is checked too (``signature``, ``valid``).
    """
    return ResultCheck.model_validate(workflow.check_result(code, sha256))


@router.post("/dossiers/{code}/result/verify", tags=["verification"])
async def check_result_file(request: Request, code: str, file: UploadedFile) -> ResultCheck:
    """The same check for an uploaded copy, the file is not kept: its SHA-256 is compared
    with the issued document's, and its own signature is checked (``signature``: intact,
    valid, trusted, the signer's CN and O, the signing time; ``reason`` when it is not
    valid). A tampered copy is answered 200 with ``valid: false`` and the reason.
    """
    workflow: WorkflowApplication = request.app.state.workflow
    data = await read_upload(file, request.app.state.settings.max_attachment_bytes)
    sha256 = hashlib.sha256(data).hexdigest()
    checked: dict[str, Any] = await to_thread.run_sync(workflow.check_result, code, sha256, data)
    return ResultCheck.model_validate(checked)
