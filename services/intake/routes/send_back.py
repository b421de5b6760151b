"""A dossier sent back to complete and resubmitted, refused, or withdrawn
(tags ``one-stop`` and ``dossiers``)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from motcua.web.auth import CallerDep
from motcua.web.http import CorrelationIdDep
from services.intake.routes.common import IntakeDep
from services.intake.schemas import CompletionRequest, Reason, Resubmission

router = APIRouter()


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
