"""Whether a result was early, on time or late: against the statutory appointment.

The statutory appointment is the receipt's, moved only by supplements (the pause is
added to it); an apology gives the applicant a new date but never makes a late result
on time. Both the year-to-date rows and the reports' facts decide with these functions,
so the two never disagree about a dossier.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from motcua.core.calendar import local_date


def judge(issued_at: str, due_date: str, due_at: str | None) -> str:
    """Early, on time or late against the statutory appointment, from the result's time.

    With the appointment's moment (working hours) a result after it is late; without one
    (events from before working hours) the local dates are compared, as workflow did.
    Early is a result on a day before the appointment's date in both cases."""
    issued = datetime.fromisoformat(issued_at)
    day, due = local_date(issued), date.fromisoformat(due_date)
    if due_at is not None:
        return "late" if issued > datetime.fromisoformat(due_at) else _by_day(day, due, late=False)
    return _by_day(day, due, late=day > due)


def _by_day(day: date, due: date, *, late: bool) -> str:
    return "late" if late else "early" if day < due else "on_time"


def timeliness_of(
    e: Mapping[str, Any], overdue: bool, due_date: str | None, due_at: str | None
) -> str:
    """How a result counts: late when workflow marked the dossier overdue, else judged
    against the statutory appointment stats tracked itself. ``ResultIssued.timeliness``
    is not read: older events judged it against the appointment an apology had moved.
    A row from before the statutory appointment was tracked falls back to the event."""
    if overdue:
        return "late"
    if due_date is None:
        return str(e["timeliness"])
    return judge(e["issued_at"], due_date, due_at)
