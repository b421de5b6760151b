"""The applicant's rating and feedback, and the agency's answers and queue
(S-3, F-1; tag ``rating and feedback``)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query

from motcua.web.auth import CallerDep, OptionalCallerDep
from motcua.web.http import CorrelationIdDep, Limit, Offset
from services.intake.routes.common import IntakeDep
from services.intake.schemas import Answer, FeedbackCreated, FeedbackIn, FeedbackRow, Rating

router = APIRouter()

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
