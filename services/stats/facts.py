"""The per-dossier facts of the periodic reports: what happened to a dossier, and when.

The year-to-date rows (``projection.py``) say where a dossier stands *now*. A report for
March must say where every dossier stood at the end of March, and give the same numbers
run in April or a year later. So these rows keep the events' own times (``received_at``,
``issued_at``, ``occurred_at``), never the time stats consumed them, and a report is a
query "as of" an instant over them (``reports.py``): a later event adds a later time,
which a query for an earlier instant does not see.

Three kinds of rows, all pure data computed by the rules below (the live consumer and the
replay apply the same rules, as for the year-to-date rows):

* ``Facts``, one per dossier submitted or received: its groups (procedure, agency,
  level, channel), receipt, outcome and its time, the overdue mark, the apology, the
  result's kind, the first online payment, the fees assessed, the rating;
* ``Pause``, one per supplement request: when the clock stopped, when it resumed, and
  the statutory appointment it resumed with (what "overdue at the period's end" needs);
* ``Feedback``, one per feedback or complaint: when sent, when answered.

Times are stored in one fixed-width UTC form (``instant``) so that comparing the text
compares the moments, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.stats.timeliness import timeliness_of

Event = Mapping[str, Any]
INSTANT = "%Y-%m-%dT%H:%M:%S.%fZ"


def instant(value: str | datetime) -> str:
    """A moment as fixed-width UTC text: text order is time order."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime(INSTANT)


@dataclass(slots=True)
class Facts:
    """One dossier's facts with their times (``instant`` text); None: not (yet) happened."""

    dossier_id: str
    procedure_id: str
    procedure_name: str
    agency_code: str  # the receiving agency
    level: int
    channel: str
    submitted_at: str | None = None
    received_at: str | None = None
    appointment_date: str | None = None  # statutory: the receipt's, moved by supplements
    appointment_at: str | None = None
    receipt_date: str | None = None  # the receipt's own, before any supplement
    receipt_at: str | None = None
    outcome: str | None = None  # resolved, rejected, withdrawn, refused_at_intake
    outcome_at: str | None = None
    timeliness: str | None = None
    result_kind: str | None = None
    overdue_at: str | None = None
    apologised_at: str | None = None
    fees_assessed_at: str | None = None
    fees_waived_at: str | None = None
    paid_at: str | None = None
    paid_online: bool = False
    rating: int | None = None
    rated_at: str | None = None


@dataclass(slots=True)
class Pause:
    """One supplement request: the clock stops at ``requested_at`` until ``provided_at``."""

    dossier_id: str
    n: int
    requested_at: str
    provided_at: str | None = None
    appointment_date: str | None = None  # the statutory appointment after it
    appointment_at: str | None = None


@dataclass(slots=True)
class Feedback:
    feedback_id: str
    dossier_id: str
    sent_at: str
    answered_at: str | None = None


@dataclass(slots=True)
class Dossier:
    """A dossier's facts and its pauses, as the rules change them together."""

    facts: Facts
    pauses: list[Pause]


# -- rules ------------------------------------------------------------------------------


def _moment(value: str | None) -> str | None:
    return None if value is None else instant(value)


def submitted(e: Event) -> Facts:
    return Facts(
        dossier_id=e["dossier_id"],
        procedure_id=e["procedure_id"],
        procedure_name=e["procedure_name"],
        agency_code=e["agency_code"],
        level=int(e["level"]),
        channel=e["channel"],
        submitted_at=instant(e["occurred_at"]),
    )


def received(facts: Facts | None, e: Event) -> Facts:
    """The receipt; a counter dossier may have no submission event before it."""
    f = submitted(e) if facts is None else facts
    f.submitted_at = f.submitted_at or instant(e["occurred_at"])
    f.procedure_id, f.procedure_name = e["procedure_id"], e["procedure_name"]
    f.agency_code, f.level, f.channel = e["agency_code"], int(e["level"]), e["channel"]
    f.received_at = instant(e["received_at"])
    f.receipt_date = f.appointment_date = e["appointment_date"]
    f.receipt_at = f.appointment_at = _moment(e.get("appointment_at"))
    return f


def _end(outcome: str) -> Callable[[Dossier, Event], None]:
    """The first outcome stands, at the event's own time."""

    def rule(d: Dossier, e: Event) -> None:
        f = d.facts
        if f.outcome is not None or (f.received_at is None) != (outcome == "refused_at_intake"):
            return
        f.outcome, f.outcome_at = outcome, instant(e["occurred_at"])
        if outcome == "resolved":
            f.outcome_at = instant(e["issued_at"])
            f.result_kind = e["kind"]
            overdue = f.overdue_at is not None
            f.timeliness = timeliness_of(e, overdue, f.appointment_date, f.appointment_at)

    return rule


def _withdrawn(d: Dossier, e: Event) -> None:
    """Withdrawn after receipt counts; before it the dossier was never received."""
    if d.facts.received_at is not None:
        _end("withdrawn")(d, e)


def _requested(d: Dossier, e: Event) -> None:
    if d.pauses and d.pauses[-1].provided_at is None:
        return  # already paused: the clock stopped at the first request
    d.pauses.append(Pause(d.facts.dossier_id, len(d.pauses) + 1, instant(e["occurred_at"])))


def _provided(d: Dossier, e: Event) -> None:
    f = d.facts
    f.appointment_date, f.appointment_at = e["appointment_date"], _moment(e.get("appointment_at"))
    if d.pauses and d.pauses[-1].provided_at is None:
        last = d.pauses[-1]
        last.provided_at = instant(e["occurred_at"])
        last.appointment_date, last.appointment_at = f.appointment_date, f.appointment_at


def _overdue(d: Dossier, e: Event) -> None:
    d.facts.overdue_at = d.facts.overdue_at or instant(e["occurred_at"])


def _apology(d: Dossier, e: Event) -> None:
    d.facts.apologised_at = d.facts.apologised_at or instant(e["occurred_at"])


def _assessed(d: Dossier, e: Event) -> None:
    d.facts.fees_assessed_at = d.facts.fees_assessed_at or instant(e["occurred_at"])


def _waived(d: Dossier, e: Event) -> None:
    d.facts.fees_waived_at = d.facts.fees_waived_at or instant(e["occurred_at"])


def _paid(d: Dossier, e: Event) -> None:
    """The first payment decides how the dossier's fees were paid."""
    if d.facts.paid_at is None:
        d.facts.paid_at, d.facts.paid_online = instant(e["paid_at"]), e["method"] == "online"


def _rated(d: Dossier, e: Event) -> None:
    rating = int(e["rating"])
    if d.facts.rating is None and 1 <= rating <= 5:
        d.facts.rating, d.facts.rated_at = rating, instant(e["occurred_at"])


FACT_RULES: dict[str, Callable[[Dossier, Event], None]] = {
    "DossierIntakeRefused": _end("refused_at_intake"),
    "DossierRejected": _end("rejected"),
    "DossierWithdrawn": _withdrawn,
    "ResultIssued": _end("resolved"),
    "SupplementRequested": _requested,
    "SupplementProvided": _provided,
    "DossierOverdue": _overdue,
    "ApologyIssued": _apology,
    "FeeAssessed": _assessed,
    "FeeWaived": _waived,
    "PaymentSucceeded": _paid,
    "DossierRated": _rated,
}
FEEDBACK_TYPES = frozenset({"FeedbackSent", "FeedbackAnswered"})
FACT_TYPES = frozenset({"DossierSubmitted", "DossierReceived", *FACT_RULES, *FEEDBACK_TYPES})


def apply_facts(d: Dossier | None, e: Event) -> Dossier | None:
    """The dossier's facts after ``e``, changed in place (None: a dossier never submitted)."""
    kind = e.get("type")
    if kind == "DossierSubmitted":
        return d if d is not None else Dossier(submitted(e), [])
    if kind == "DossierReceived":
        if d is not None and d.facts.received_at is not None:
            return d  # a redelivered receipt
        return Dossier(received(None if d is None else d.facts, e), [] if d is None else d.pauses)
    rule = FACT_RULES.get(kind or "")
    if d is not None and rule is not None:
        rule(d, e)
    return d


def apply_feedback(row: Feedback | None, e: Event) -> Feedback | None:
    """A feedback's row after ``FeedbackSent`` or ``FeedbackAnswered`` (the first answer)."""
    if e.get("type") == "FeedbackSent":
        if row is not None:
            return row
        return Feedback(str(e["feedback_id"]), e["dossier_id"], instant(e["occurred_at"]))
    if row is not None and row.answered_at is None:
        row.answered_at = instant(e["occurred_at"])
    return row
