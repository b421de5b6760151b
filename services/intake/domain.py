"""Intake's aggregates: the dossier up to acceptance, and the daily code sequence.

A dossier is submitted (online by the applicant, or entered at the counter / from the
post by a one-stop officer), then accepted with its legal code, sent back for
completion, or refused (I-3). The code's 4-digit sequence comes from one
``DailySequence`` per receiving unit and day, saved in the same transaction as the
dossier's ``Received`` event: codes are unique and gap-free even under concurrency.

After the result the applicant rates the dossier once (S-3); at any time after
submission they may send feedback or a complaint, which the dossier's agency answers
once (F-1). Both live on the dossier so that "once" is checked against one version.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from motcua.core.errors import Conflict, Invalid, NotFound
from motcua.core.sequence import GapFreeSequence
from motcua.core.tracing import TracedAggregate

MAX_DAILY_SEQUENCE = 9999

AWAITING_ACCEPTANCE = ("submitted", "resubmitted")
CLOSED = ("refused", "withdrawn")
MIN_RATING, MAX_RATING = 1, 5
FEEDBACK_KINDS = ("feedback", "complaint")


class Dossier(TracedAggregate):
    """An application for one procedure, as intake sees it."""

    @event("Submitted")
    def __init__(
        self,
        *,
        procedure_id: str,
        procedure_name: str,
        level: int,
        agency_code: str,
        channel: str,
        applicant: dict[str, Any],
        form_data: dict[str, Any],
        documents: list[dict[str, Any]],
        submitted_by: str,
        correlation_id: str,
    ) -> None:
        self.procedure_id, self.procedure_name, self.level = procedure_id, procedure_name, level
        self.agency_code, self.channel, self.applicant = agency_code, channel, applicant
        self.form_data, self.documents = form_data, documents
        # Recorded by ``record_postal`` (an event of its own: the creation event's fields
        # cannot grow without breaking the replay of the dossiers stored before).
        self.postal_tracking_number: str | None = None  # received by post: its parcel
        self.delivery_address: dict[str, Any] | None = None  # the result by post, here
        self.status = "submitted"
        self.code: str | None = None
        self.appointment_date: date | None = None
        self.appointment_at: datetime | None = None
        self.calendar_version = 0
        self.received_at: datetime | None = None
        self.time_limit_working_days: int | None = None
        self.received_by: str | None = None
        self.reason: str | None = None
        self.rating: int | None = None
        self.rating_comment = ""
        self.feedback: dict[str, dict[str, Any]] = {}

    @classmethod
    def submitted(cls, dossier_id: UUID | None, **fields: Any) -> Dossier:
        """A new dossier, under ``dossier_id`` when the caller derives it (so that a
        retried submission maps onto the same aggregate) or a random id otherwise."""
        if dossier_id is None:
            return cls(**fields)
        return cls._create(cast(Any, cls).Submitted, id=dossier_id, **fields)

    @event("PostalDetailsRecorded")
    def record_postal(
        self,
        *,
        tracking_number: str | None,
        delivery_address: dict[str, Any] | None,
        correlation_id: str,
    ) -> None:
        """How the dossier came by post, and where the applicant wants the result posted;
        recorded with the submission, in the same save."""
        self.postal_tracking_number, self.delivery_address = tracking_number, delivery_address

    @event("CompletionRequested")
    def request_completion(
        self, *, reason: str, missing_documents: list[str], requested_by: str, correlation_id: str
    ) -> None:
        self.check_awaiting_acceptance("request completion of")
        self.status, self.reason = "completion_requested", reason

    @event("Resubmitted")
    def resubmit(
        self,
        *,
        form_data: dict[str, Any],
        documents: list[dict[str, Any]],
        resubmitted_by: str,
        correlation_id: str,
    ) -> None:
        if self.status != "completion_requested":
            raise NotAwaitingCompletion(
                f"dossier is {self.status}; it can be completed only when completion was requested"
            )
        self.form_data, self.documents, self.status = form_data, documents, "resubmitted"

    @event("Received")
    def receive(
        self,
        *,
        code: str,
        received_at: datetime,
        appointment_date: date,
        time_limit_working_days: int,
        received_by: str,
        correlation_id: str,
        appointment_at: datetime | None = None,
        calendar_version: int = 0,
    ) -> None:
        # ``appointment_at`` (the return time to the minute) and ``calendar_version``
        # arrived with working hours: a dossier received before has None and 0.
        self.check_awaiting_acceptance("accept")
        self.code, self.received_at, self.appointment_date = code, received_at, appointment_date
        self.appointment_at, self.calendar_version = appointment_at, calendar_version
        self.time_limit_working_days, self.received_by = time_limit_working_days, received_by
        self.status = "received"

    @event("IntakeRefused")
    def refuse(self, *, reason: str, refused_by: str, correlation_id: str) -> None:
        self.check_awaiting_acceptance("refuse")
        self.status, self.reason = "refused", reason

    @event("Withdrawn")
    def withdraw(self, *, reason: str, withdrawn_by: str, correlation_id: str) -> None:
        """Withdraw before acceptance; once received, the workflow service owns the dossier."""
        if self.status in CLOSED:
            raise DossierClosed(f"dossier is already {self.status}")
        if self.status == "received":
            raise InProcess(
                "the dossier is being processed; withdraw it with the workflow service "
                "(POST /v1/dossiers/{id}/withdraw on port 8002)"
            )
        self.status, self.reason = "withdrawn", reason

    def rate(
        self,
        *,
        rating: int,
        comment: str,
        rated_by: str | None,
        result_issued: bool,
        correlation_id: str,
    ) -> None:
        """Rate the service once, after the result (S-3).

        Whether the result is out is workflow's fact, which intake learns from its events;
        it is an argument here, not event data, because the rating does not depend on how
        intake learned it.
        """
        if not MIN_RATING <= rating <= MAX_RATING:
            raise InvalidRating(
                f"Mức đánh giá phải từ {MIN_RATING} đến {MAX_RATING}. "
                f"The rating must be from {MIN_RATING} to {MAX_RATING}; got {rating}"
            )
        if self.rating is not None:
            raise AlreadyRated(
                "Hồ sơ đã được đánh giá; mỗi hồ sơ chỉ được đánh giá một lần. "
                "The dossier has already been rated; it can be rated only once"
            )
        if not result_issued:
            raise NoResultYet(
                "Hồ sơ chưa có kết quả giải quyết nên chưa thể đánh giá. "
                "The dossier has no result yet; rate it once its result is issued"
            )
        self._rated(
            rating=rating, comment=comment.strip(), rated_by=rated_by, correlation_id=correlation_id
        )

    @event("Rated")
    def _rated(
        self, *, rating: int, comment: str, rated_by: str | None, correlation_id: str
    ) -> None:
        self.rating, self.rating_comment = rating, comment

    @event("FeedbackSent")
    def send_feedback(
        self, *, feedback_id: str, kind: str, text: str, sent_by: str | None, correlation_id: str
    ) -> None:
        """Feedback or a complaint (phản ánh, kiến nghị; F-1), at any time after submission."""
        if kind not in FEEDBACK_KINDS:
            raise InvalidFeedback(f"kind must be one of {', '.join(FEEDBACK_KINDS)}; got {kind!r}")
        if not text.strip():
            raise InvalidFeedback("Nội dung phản ánh không được để trống. The text is empty")
        self.feedback[feedback_id] = {"kind": kind, "text": text, "answer": None}

    @event("FeedbackAnswered")
    def answer_feedback(
        self,
        *,
        feedback_id: str,
        answer: str,
        agency_code: str,
        answered_by: str,
        correlation_id: str,
    ) -> None:
        """The agency's one answer to a feedback; a second one would contradict the first."""
        item = self.feedback.get(feedback_id)
        if item is None:
            raise UnknownFeedback(f"the dossier has no feedback {feedback_id}")
        if item["answer"] is not None:
            raise AlreadyAnswered(
                "Phản ánh, kiến nghị này đã được trả lời. This feedback has already been answered"
            )
        if not answer.strip():
            raise InvalidFeedback("Nội dung trả lời không được để trống. The answer is empty")
        item.update(answer=answer, agency_code=agency_code, answered_by=answered_by)

    def check_awaiting_acceptance(self, action: str) -> None:
        if self.status not in AWAITING_ACCEPTANCE:
            raise NotAwaitingAcceptance(f"cannot {action} a dossier that is {self.status}")


class DailySequence(GapFreeSequence):
    """Numbers the dossiers one receiving unit accepts on one day: 1, 2, 3 … 9999."""

    @staticmethod
    def create_id(agency_code: str, day: date) -> UUID:
        return uuid5(NAMESPACE_URL, f"motcua:intake:sequence:{agency_code}:{day.isoformat()}")

    @event("Started")
    def __init__(self, agency_code: str, day: date) -> None:
        self.agency_code, self.day = agency_code, day
        self.last = 0

    @event("Issued")
    def issue(self, dossier_id: UUID) -> None:
        self.advance()

    def limit(self) -> int:
        return MAX_DAILY_SEQUENCE

    def exhausted(self) -> str:
        return (
            f"unit {self.agency_code} has already received {MAX_DAILY_SEQUENCE} dossiers on "
            f"{self.day.isoformat()}; the dossier code allows no more that day"
        )

    def code_for_last(self) -> str:
        """The dossier code of the last number issued: ``<agency>-YYMMDD-XXXX`` (I-1)."""
        return f"{self.agency_code}-{self.day:%y%m%d}-{self.last:04d}"


class NotAwaitingAcceptance(Conflict):
    pass


class NotAwaitingCompletion(Conflict):
    pass


class DossierClosed(Conflict):
    pass


class InProcess(Conflict):
    pass


class AlreadyRated(Conflict):
    pass


class NoResultYet(Conflict):
    pass


class InvalidRating(Invalid):
    pass


class InvalidFeedback(Invalid):
    pass


class UnknownFeedback(NotFound):
    pass


class AlreadyAnswered(Conflict):
    pass
