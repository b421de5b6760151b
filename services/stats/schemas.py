"""Response bodies of stats' HTTP API (what /docs shows): the year-to-date figures, the
periodic reports and the service index."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from contracts.envelope import Channel
from services.stats.figures import ELIGIBLE_PERCENT, Scope


class FigureRow(BaseModel):
    """One row of figures; every count is a number of dossiers unless it says steps or VND."""

    kind: Literal["row", "procedure", "total"]
    year: int
    scope: Scope
    procedure_id: str | None
    procedure_name: str | None
    agency_code: str | None = Field(description="Receiving agency (province), or the agency")
    level: int | None
    channel: Channel | None
    received: int = Field(description="Received this year (agency scope: handled)")
    resolved_early: int
    resolved_on_time: int
    resolved_late: int = Field(description="After the statutory appointment, apology or not")
    resolved_late_apologised: int = Field(description="Of the late: an apology was issued")
    in_progress_on_time: int
    in_progress_overdue: int
    paused_for_supplement: int = Field(description="In progress, waiting for a supplement")
    refused: int
    withdrawn: int
    online_received: int
    fees_vnd: int = Field(description="Payments less refunds, integer VND")
    ratings: int
    rating_sum: int
    late_attributed: int = Field(description="Overdue dossiers whose delay is this agency's")
    steps: int
    steps_done: int
    steps_late: int
    steps_overdue: int
    average_rating: float | None
    online_share: float | None = Field(description="Of the procedure: online / received")
    eligible_for_level_4: bool | None = Field(
        description=f"Level 3 and online share >= {ELIGIBLE_PERCENT}%"
    )


class YtdOut(BaseModel):
    year: int
    today: date
    scope: Scope
    rows: list[FigureRow]
    procedures: list[FigureRow] = Field(description="Per procedure, whole province (S-2)")
    totals: FigureRow


class ReportRow(BaseModel):
    """One group of a periodic report (or the totals: ``key`` null); counts of dossiers."""

    key: str | int | None = Field(description="Procedure id, field, agency code, level or channel")
    label: str
    carried_over: int = Field(description="Received before the period, not finished before it")
    received: int
    received_online: int
    received_counter: int
    received_post: int
    resolved: int
    resolved_early: int
    resolved_on_time: int
    resolved_late: int = Field(description="After the statutory appointment, apology or not")
    resolved_late_apologised: int
    resolved_by_post: int = Field(description="Resolved, the result sent by post")
    open_on_time: int = Field(description="Unfinished at the end, in time")
    open_overdue: int = Field(description="Unfinished at the end, not paused, overdue")
    paused: int = Field(description="Unfinished at the end, waiting for a supplement")
    withdrawn: int = Field(description="Withdrawn after receipt")
    refused: int = Field(description="refused_at_intake + rejected")
    refused_at_intake: int = Field(description="Refused at the one-stop: never received")
    rejected: int


class ReportOut(BaseModel):
    period: str
    first_day: date
    last_day: date
    by: Literal["procedure", "field", "agency", "level", "channel"]
    as_of: str = Field(description="The moment the figures stand at (UTC)")
    complete: bool = Field(description="The period is over: the figures will not change")
    rows: list[ReportRow]
    totals: ReportRow


class Rate(BaseModel):
    """A share with what it is made of: ``rate`` = numerator / denominator, null when the
    denominator is 0."""

    numerator: int
    denominator: int
    rate: float | None = Field(description="0 to 1; null: nothing to share")


class IndexRow(BaseModel):
    """One receiving agency's index (or the province's: ``key`` null) for the period."""

    key: str | None = Field(description="Receiving agency code; null for the province")
    label: str = Field(description="The agency's name")
    on_time: Rate = Field(description="Resolved in the period early or on time / resolved")
    online_received: Rate = Field(description="Received online / received in the period")
    electronic_results: Rate = Field(
        description="Resolved with an electronic result / resolved in the period (resolved online)"
    )
    online_payments: Rate = Field(description="First payment online / paid in the period")
    satisfied: Rate = Field(description="Ratings 4 or 5 / ratings given in the period (1 to 5)")
    average_rating: float | None = Field(description="Average of the ratings given, 1 to 5")
    feedback_answered: Rate = Field(
        description="Feedback sent in the period and answered by its end / sent in the period"
    )
    feedback_on_time: Rate = Field(
        description="Of the feedback sent in the period, answered within the limit / sent"
    )


class IndexOut(BaseModel):
    """The service index of Decision 766/QĐ-TTg for a period, as of its end."""

    period: str
    first_day: date
    last_day: date
    as_of: str = Field(description="The moment the figures stand at (UTC)")
    complete: bool = Field(description="The period is over: the figures will not change")
    feedback_limit_working_days: int = Field(
        description="Working days a feedback may take to be answered on time"
    )
    rows: list[IndexRow]
    totals: IndexRow
