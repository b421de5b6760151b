"""The service index of Decision 766/QĐ-TTg (2022), per receiving agency, for a period.

Decision 766/QĐ-TTg sets the index by which the province, its agencies and the ministries
are measured in serving people and businesses (Bộ chỉ số chỉ đạo, điều hành và đánh giá
chất lượng phục vụ người dân, doanh nghiệp). Of its indicators, those the events allow:

* on time: resolved in the period early or on time / resolved in the period;
* received online: received online / received in the period;
* electronic results (the "resolved online" indicator): resolved in the period with a
  result of kind ``electronic`` (``contracts.workflow.ResultKind``) / resolved;
* online payments: paid in the period, the first payment online / paid in the period;
* satisfied: ratings given in the period of 4 or 5 (the rating's scale is 1 to 5,
  ``contracts.intake.DossierRated``) / ratings given, with their average;
* feedback answered, and answered on time: of the feedback sent in the period, answered
  (before the end), answered within ``FEEDBACK_ANSWER_WORKING_DAYS``.

Every indicator is a question about the facts' own times (``facts.py``) asked for the
period's start ``S`` and its end ``E`` (or now, included, while it runs), as the periodic
reports ask theirs (``reports.py``): a later event, whose time is after ``E``, changes no
figure. Each rate keeps its numerator and denominator; with no denominator it is None,
never a division by zero. The agency is the dossier's receiving agency, as the reports'
"agency" grouping; a feedback counts for its dossier's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from motcua.core.calendar import local_date, working_days_between
from motcua.runtime.store import Store, Tx
from services.catalogue.procedures import Catalogue
from services.stats.periods import Period
from services.stats.reports import agency_name, as_of_end

FEEDBACK_ANSWER_WORKING_DAYS = 10
"""Working days an agency has to answer a feedback, from the day it was sent.

Decree 20/2008/NĐ-CP (receiving and handling feedback and recommendations of individuals
and organisations on administrative regulations) sets a time limit for handling them.
The figure here is the province's setting: it was not verified against the decree's
text, and is changed here if the province counts another. Days are counted as
``motcua.core.calendar.working_days_between`` counts them (after the day sent, up to and
including the day answered, Vietnam-local dates) on the base calendar: the days off and
make-up days an administrator enters are not known to stats."""

# (key, numerator, denominator, Vietnamese name): the rates, in the order shown.
RATES: tuple[tuple[str, str, str, str], ...] = (
    ("on_time", "resolved_on_time", "resolved", "Giải quyết trước hạn, đúng hạn"),
    ("online_received", "received_online", "received", "Tiếp nhận trực tuyến"),
    ("electronic_results", "resolved_electronic", "resolved", "Trả kết quả điện tử"),
    ("online_payments", "paid_online", "paid", "Thanh toán trực tuyến"),
    ("satisfied", "ratings_satisfied", "ratings", "Đánh giá hài lòng (4–5 điểm)"),
    ("feedback_answered", "feedback_answered", "feedback_sent", "Phản ánh, kiến nghị đã trả lời"),
    (
        "feedback_on_time",
        "feedback_on_time",
        "feedback_sent",
        "Phản ánh, kiến nghị trả lời đúng hạn",
    ),
)
TOTAL = "Toàn tỉnh"
COUNTS = (
    "received",
    "received_online",
    "resolved",
    "resolved_on_time",
    "resolved_electronic",
    "paid",
    "paid_online",
    "ratings",
    "rating_sum",
    "ratings_satisfied",
    "feedback_sent",
    "feedback_answered",
    "feedback_on_time",
)


def _facts_query(s: str, e: str) -> tuple[str, list[str]]:
    """Per receiving agency, the counts of the dossiers' facts whose times are in [S, E).

    Each condition puts its two parameters where it occurs, so the text and the
    parameters cannot drift apart."""
    params: list[str] = []
    columns = {
        "received": "f.received_at",
        "resolved": "f.outcome_at",
        "paid": "f.paid_at",
        "rated": "f.rated_at",
    }

    def during(what: str) -> str:
        params.extend((s, e))
        only = "f.outcome = 'resolved' AND " if what == "resolved" else ""
        return f"({only}{columns[what]} >= ? AND {columns[what]} < ?)"

    def count(what: str, also: str = "", value: str = "1") -> str:
        return f"SUM(CASE WHEN {during(what)}{also} THEN {value} ELSE 0 END)"

    select = f"""
        SELECT f.agency_code AS key,
            {count("received")} AS received,
            {count("received", " AND f.channel = 'online'")} AS received_online,
            {count("resolved")} AS resolved,
            {count("resolved", " AND f.timeliness IN ('early', 'on_time')")} AS resolved_on_time,
            {count("resolved", " AND f.result_kind = 'electronic'")} AS resolved_electronic,
            {count("paid")} AS paid,
            {count("paid", " AND f.paid_online = 1")} AS paid_online,
            {count("rated")} AS ratings,
            {count("rated", value="f.rating")} AS rating_sum,
            {count("rated", " AND f.rating >= 4")} AS ratings_satisfied
        FROM {{stats_facts}} f
        WHERE {" OR ".join(during(w) for w in columns)}
        GROUP BY f.agency_code
        ORDER BY f.agency_code
    """
    return select, params


# The feedback sent in [S, E), with its dossier's receiving agency; answered_at as of E.
_FEEDBACK_SQL = """
    SELECT d.agency_code AS key, b.sent_at,
        CASE WHEN b.answered_at < ? THEN b.answered_at END AS answered_at
    FROM {stats_feedback} b JOIN {stats_facts} d ON d.dossier_id = b.dossier_id
    WHERE b.sent_at >= ? AND b.sent_at < ?
"""


@dataclass(frozen=True)
class ServiceIndex:
    """The index of ``period`` as of ``as_of``: a row per receiving agency, the totals."""

    period: Period
    as_of: str
    complete: bool  # the period is over: its figures will not change
    rows: list[dict[str, Any]]
    totals: dict[str, Any]


def service_index(
    store: Store, period: Period, now: datetime, catalogue: Catalogue | None = None
) -> ServiceIndex:
    """The index of ``period`` as of its end (or ``now`` if sooner), per agency."""
    as_of, complete, _ = as_of_end(period, now)
    with store.snapshot() as tx:
        counts = _counts(tx, period.start, as_of)
    rows = [figures(key, agency_name(key, catalogue), c) for key, c in sorted(counts.items())]
    totals = {c: sum(row[c] for row in counts.values()) for c in COUNTS}
    return ServiceIndex(period, as_of, complete, rows, figures(None, TOTAL, totals))


def _counts(tx: Tx, s: str, e: str) -> dict[str, dict[str, int]]:
    """The counts per agency: the facts' from SQL, the feedback's counted here (working
    days are the calendar's, not SQL's)."""
    out: dict[str, dict[str, int]] = {}
    tx.execute(*_facts_query(s, e))
    for r in tx.fetchall():
        out[r["key"]] = {c: int(r.get(c) or 0) for c in COUNTS}
    for r in tx.read(_FEEDBACK_SQL, [e, s, e]):
        row = out.setdefault(r["key"], dict.fromkeys(COUNTS, 0))
        row["feedback_sent"] += 1
        if r["answered_at"] is not None:
            row["feedback_answered"] += 1
            row["feedback_on_time"] += answered_in_time(r["sent_at"], r["answered_at"])
    return out


def answered_in_time(sent_at: str, answered_at: str) -> bool:
    """Answered within ``FEEDBACK_ANSWER_WORKING_DAYS`` working days of the day sent."""
    sent, answered = (local_date(datetime.fromisoformat(t)) for t in (sent_at, answered_at))
    return working_days_between(sent, answered) <= FEEDBACK_ANSWER_WORKING_DAYS


def rate(numerator: int, denominator: int) -> dict[str, Any]:
    """A share with what it is made of; None when there is nothing to share."""
    share = numerator / denominator if denominator else None
    return {"numerator": numerator, "denominator": denominator, "rate": share}


def figures(key: str | None, label: str, counts: dict[str, int]) -> dict[str, Any]:
    """One row: every rate with its numerator and denominator, the average rating."""
    row: dict[str, Any] = {"key": key, "label": label}
    for name, numerator, denominator, _ in RATES:
        row[name] = rate(counts[numerator], counts[denominator])
    ratings = counts["ratings"]
    row["average_rating"] = counts["rating_sum"] / ratings if ratings else None
    return row
