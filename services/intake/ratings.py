"""What the applicant says afterwards: the rating and feedback, and the agency's answers
(S-3, F-1).

Its own module because these commands differ from the others: the applicant may be
identified by the lookup's credentials instead of an account, and they only change the
dossier's view (and the feedback queue), never its lookup row, whose status workflow
keeps. Several of them may change one dossier at once, so each is run again on a
conflict (``_change``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

from motcua.core.errors import Forbidden
from motcua.core.retry import retry_on_conflict
from motcua.runtime.store import Write
from motcua.web.auth import Caller, agency_scope
from services.intake.access import Parties, holds_lookup, is_applicant
from services.intake.base import IntakeBase
from services.intake.domain import Dossier
from services.intake.readmodel import feedback_row

CHANGE_ATTEMPTS = 5


class RatingsMixin(IntakeBase):
    """``rate``, ``send_feedback``, ``answer_feedback`` and the agency's ``feedback_queue``."""

    def rate(
        self,
        caller: Caller | None,
        ref: str,
        id_number: str | None,
        *,
        rating: int,
        comment: str,
        correlation_id: str,
    ) -> None:
        """The applicant rates the dossier once its result is out (by account or lookup)."""
        dossier, account = self._for_applicant(caller, ref, id_number, "đánh giá", "rate")

        def change(d: Dossier) -> list[Write]:
            d.rate(
                rating=rating,
                comment=comment,
                rated_by=account,
                result_issued=self.progress.result_issued(str(d.id)),
                correlation_id=correlation_id,
            )
            return []  # the lookup row keeps workflow's status: only the view is written

        self._change(dossier.id, change)

    def send_feedback(
        self,
        caller: Caller | None,
        ref: str,
        id_number: str | None,
        *,
        kind: str,
        text: str,
        correlation_id: str,
    ) -> UUID:
        """The applicant's feedback or complaint; it waits in the agency's queue."""
        dossier, account = self._for_applicant(caller, ref, id_number, "gửi phản ánh", "send")
        feedback_id = str(uuid4())

        def change(d: Dossier) -> list[Write]:
            d.send_feedback(
                feedback_id=feedback_id,
                kind=kind,
                text=text,
                sent_by=account,
                correlation_id=correlation_id,
            )
            return [feedback_row(d, feedback_id)]

        self._change(dossier.id, change)
        return UUID(feedback_id)

    def answer_feedback(
        self,
        caller: Caller,
        dossier_id: UUID,
        feedback_id: UUID,
        *,
        answer: str,
        correlation_id: str,
    ) -> None:
        """An officer of the dossier's agency answers, once; other agencies get 403."""
        self._for_officer(caller, dossier_id)
        agency = caller.agency
        assert agency is not None  # an officer's token always names the agency

        def change(d: Dossier) -> list[Write]:
            d.answer_feedback(
                feedback_id=str(feedback_id),
                answer=answer,
                agency_code=agency,
                answered_by=caller.sub,
                correlation_id=correlation_id,
            )
            return [feedback_row(d, str(feedback_id))]

        self._change(dossier_id, change)

    def feedback_queue(
        self, caller: Caller, answered: bool | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Feedback to the caller's agency (all agencies for an admin), oldest first."""
        where, params = agency_scope(caller)
        if answered is not None:
            where.append("answered_at IS NOT NULL" if answered else "answered_at IS NULL")
        return self.store.read(
            f"SELECT * FROM {{intake_feedback}} WHERE {' AND '.join(where)} "
            "ORDER BY sent_at ASC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

    def _for_applicant(
        self, caller: Caller | None, ref: str, id_number: str | None, act_vi: str, act: str
    ) -> tuple[Dossier, str | None]:
        """The dossier and the applicant's account (None when identified by code + ID number).

        Whoever may not even see the dossier gets the lookup's 404; officers and admins
        who may see it are still not its applicant (403). A counter applicant without an
        account identifies with the lookup's credentials: the code and their ID number.
        """
        dossier = self.find(ref, caller, id_number)
        parties = Parties.of(dossier)
        if caller is not None and is_applicant(caller, parties):
            return dossier, caller.sub
        stranger_role = caller is not None and caller.role != "citizen"
        if not stranger_role and holds_lookup(parties, ref, id_number):
            return dossier, None
        raise Forbidden(
            f"Chỉ người nộp hồ sơ mới được {act_vi}. Only the dossier's applicant may {act} here"
        )

    @retry_on_conflict(
        attempts=CHANGE_ATTEMPTS,
        jitter=0.01,
        message="the dossier is being changed by someone else; please try again",
    )
    def _change(self, dossier_id: UUID, change: Callable[[Dossier], list[Write]]) -> None:
        """Load, change and save the dossier with its view; a concurrent save makes it
        start again.

        The rerun sees the other change, so two simultaneous ratings end with one saved and
        the other refused as a second rating (409), never with a server error.
        """
        dossier = self._dossier(dossier_id)
        writes = change(dossier)
        self.save(dossier, writes=[*writes, self.views.row(dossier)])
