"""Submitting a dossier: its scanned documents first, then the dossier itself, with the
``Idempotency-Key`` that makes a retried submission return the first one
(tags ``attachments`` and ``dossiers``)."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Header, Request, Response

from motcua.runtime.attachments import Attachment, UploadedFile, read_upload
from motcua.web.auth import CallerDep
from motcua.web.http import CorrelationIdDep
from services.intake.application import IntakeApplication
from services.intake.routes.common import IntakeDep
from services.intake.schemas import Created, Submission

router = APIRouter()


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
        postal_tracking_number=body.postal_tracking_number,
        delivery_address=body.delivery_address.model_dump() if body.delivery_address else None,
        idempotency_key=idempotency_key,
        correlation_id=cid,
    )
    return Created(id=dossier_id, status="submitted")
