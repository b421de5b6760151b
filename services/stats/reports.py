"""Periodic reports (the OpenCPS / provincial layout), computed as of the period's end.

Every count is a question about the facts' own times (``facts.py``), asked for the
period's start ``S`` and its end ``E`` (or now, for a period not over yet):

* carried over: received before ``S`` and without an outcome before ``S``;
* received in the period (online / counter / post): ``S <= received_at < E``;
* resolved, withdrawn, rejected, refused at intake in the period: their outcome's time;
  resolved split early / on time / late against the statutory appointment, and the late
  ones with an apology ("late, apologised"); the resolved whose result goes by post
  ("by post", OpenCPS's ``viaPostal``);
* open at ``E`` (received before it, no outcome before it), split into paused (a
  supplement requested before ``E`` and not provided before it), overdue (marked so
  before ``E``, or the statutory appointment in force at ``E`` passed) and on time.

So a later event, whose time is after ``E``, changes no count: a report for March gives
the same numbers run in April or a year later. The balance holds in every row:
carried over + received = resolved + withdrawn + rejected + open at the end (paused,
overdue, on time). A dossier refused at intake was never received: it is counted in
"refused" (beside the rejections, as the provincial layout does) but outside the balance.
A dossier withdrawn before its receipt was never the province's: it is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args

from motcua.core.calendar import local_date
from motcua.runtime.store import Store, Tx
from services.catalogue.procedures import Catalogue
from services.stats.facts import instant
from services.stats.periods import Period, PeriodError

GroupBy = Literal["procedure", "field", "agency", "level", "channel"]
GROUPS: tuple[str, ...] = get_args(GroupBy)
NO_FIELD = "Chưa phân loại"

COUNTS = (
    "carried_over",
    "received",
    "received_online",
    "received_counter",
    "received_post",
    "resolved",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
    "resolved_late_apologised",
    "resolved_by_post",
    "open_on_time",
    "open_overdue",
    "paused",
    "withdrawn",
    "refused",
    "refused_at_intake",
    "rejected",
)

_KEY = {
    "procedure": "f.procedure_id",
    "field": "f.procedure_id",  # grouped by procedure here, then by its field (catalogue)
    "agency": "f.agency_code",
    "level": "f.level",
    "channel": "f.channel",
}

# One row per fact, its state at the end ``E`` (the parameters are E, E).
_AS_OF = """
    SELECT f.*,
        (SELECT MAX(p.n) FROM {stats_pauses} p
         WHERE p.dossier_id = f.dossier_id AND p.provided_at < ?) AS resumed_n,
        (SELECT COUNT(*) FROM {stats_pauses} p
         WHERE p.dossier_id = f.dossier_id AND p.requested_at < ?
           AND (p.provided_at IS NULL OR p.provided_at >= ?)) AS paused_n
    FROM {stats_facts} f
    WHERE (f.received_at < ? AND (f.outcome_at IS NULL OR f.outcome_at >= ?))
       OR (f.outcome = 'refused_at_intake' AND f.outcome_at >= ? AND f.outcome_at < ?)
"""


def _report_sql(key: str) -> str:
    """The counts per group over ``_AS_OF``; parameters: see ``_params``."""
    received = "(x.received_at >= ? AND x.received_at < ?)"
    outcome = "(x.outcome_at >= ? AND x.outcome_at < ?)"
    open_at_end = "(x.received_at < ? AND (x.outcome_at IS NULL OR x.outcome_at >= ?))"
    due_date = "CASE WHEN x.resumed_n IS NULL THEN x.receipt_date ELSE lp.appointment_date END"
    due_at = "CASE WHEN x.resumed_n IS NULL THEN x.receipt_at ELSE lp.appointment_at END"
    passed = f"(CASE WHEN {due_at} IS NOT NULL THEN {due_at} < ? ELSE {due_date} < ? END)"
    overdue = f"(x.paused_n = 0 AND ((x.overdue_at IS NOT NULL AND x.overdue_at < ?) OR {passed}))"

    def when(condition: str) -> str:
        return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    resolved = f"x.outcome = 'resolved' AND {outcome}"
    return f"""
        SELECT {key.replace("f.", "x.")} AS key, MAX(x.procedure_name) AS procedure_name,
            {when("x.received_at < ? AND (x.outcome_at IS NULL OR x.outcome_at >= ?)")}
                AS carried_over,
            {when(received)} AS received,
            {when(f"x.channel = 'online' AND {received}")} AS received_online,
            {when(f"x.channel = 'counter' AND {received}")} AS received_counter,
            {when(f"x.channel = 'post' AND {received}")} AS received_post,
            {when(resolved)} AS resolved,
            {when(f"{resolved} AND x.timeliness = 'early'")} AS resolved_early,
            {when(f"{resolved} AND x.timeliness = 'on_time'")} AS resolved_on_time,
            {when(f"{resolved} AND x.timeliness = 'late'")} AS resolved_late,
            {when(f"{resolved} AND x.timeliness = 'late' AND x.apologised_at IS NOT NULL")}
                AS resolved_late_apologised,
            {when(f"{resolved} AND x.result_kind = 'post'")} AS resolved_by_post,
            {when(f"{open_at_end} AND x.paused_n = 0 AND NOT {overdue}")} AS open_on_time,
            {when(f"{open_at_end} AND {overdue}")} AS open_overdue,
            {when(f"{open_at_end} AND x.paused_n > 0")} AS paused,
            {when(f"x.outcome = 'withdrawn' AND {outcome}")} AS withdrawn,
            {when(f"x.outcome = 'refused_at_intake' AND {outcome}")} AS refused_at_intake,
            {when(f"x.outcome = 'rejected' AND {outcome}")} AS rejected
        FROM ({_AS_OF}) x
        LEFT JOIN {{stats_pauses}} lp ON lp.dossier_id = x.dossier_id AND lp.n = x.resumed_n
        GROUP BY {key.replace("f.", "x.")}
        ORDER BY {key.replace("f.", "x.")}
    """


def _params(s: str, e: str, as_of_day: date) -> list[Any]:
    """The parameters of ``_report_sql``, in the order of its placeholders."""
    day = as_of_day.isoformat()
    received, outcome, open_at_end = [s, e], [s, e], [e, e]
    overdue = [e, e, day]  # marked before E; the moment passed before E; the date before E's day
    select = [
        s,
        s,  # carried over
        *received * 4,
        *outcome * 6,  # resolved, its four splits, and by post
        *open_at_end,
        *overdue,  # open on time
        *open_at_end,
        *overdue,  # open overdue
        *open_at_end,  # paused
        *outcome * 3,  # withdrawn, refused at intake, rejected
    ]
    return [*select, e, e, e, e, s, s, e]


@dataclass(frozen=True)
class Report:
    """One report: a row per group, the totals row, as of ``as_of`` (an instant)."""

    period: Period
    by: GroupBy
    as_of: str
    complete: bool  # the period is over: its figures will not change
    rows: list[dict[str, Any]]
    totals: dict[str, Any] = field(default_factory=dict)


def as_of_end(period: Period, now: datetime) -> tuple[str, bool, date]:
    """The instant ``period``'s figures stand at, whether it is over, and that day.

    Its end once over; before, now included: under a clock that stands still (a test's,
    the demo's) the events happen at the very moment the figures are asked for."""
    current = instant(now + timedelta(microseconds=1))
    if current <= period.start:
        raise PeriodError(f"the period {period.label} has not started yet")
    if current >= period.end:
        return period.end, True, period.last
    return current, False, local_date(now)


def report(
    store: Store, period: Period, by: GroupBy, now: datetime, catalogue: Catalogue | None = None
) -> Report:
    """The report of ``period`` grouped ``by``, as of its end (or ``now`` if sooner)."""
    if by not in GROUPS:
        raise PeriodError(f"unknown grouping {by!r}: expected one of {', '.join(GROUPS)}")
    as_of, complete, as_of_day = as_of_end(period, now)
    with store.snapshot() as tx:
        rows = _rows(tx, by, period.start, as_of, as_of_day)
    rows = [_labelled(r, by, catalogue) for r in rows]
    if by == "field":
        rows = _by_field(rows)
    totals: dict[str, Any] = {"key": None, "label": "Tổng cộng"}
    totals.update({c: sum(r[c] for r in rows) for c in COUNTS})
    return Report(period, by, as_of, complete, rows, totals)


def _rows(tx: Tx, by: GroupBy, s: str, e: str, as_of_day: date) -> list[dict[str, Any]]:
    tx.execute(_report_sql(_KEY[by]), _params(s, e, as_of_day))
    out = []
    for r in tx.fetchall():
        row: dict[str, Any] = {"key": r["key"], "procedure_name": r["procedure_name"]}
        row.update({c: int(r[c] or 0) for c in COUNTS if c != "refused"})
        row["refused"] = row["refused_at_intake"] + row["rejected"]
        out.append(row)
    return out


def _labelled(row: dict[str, Any], by: GroupBy, catalogue: Catalogue | None) -> dict[str, Any]:
    name = row.pop("procedure_name")
    key = row["key"]
    if by == "procedure":
        label = name
    elif by == "field":
        procedure = catalogue.get(key) if catalogue is not None else None
        label = key = procedure.field if procedure is not None else NO_FIELD
    elif by == "agency":
        label = agency_name(key, catalogue)
    elif by == "level":
        key = int(key)
        label = f"Mức độ {key}"
    else:
        label = {"online": "Trực tuyến", "counter": "Trực tiếp", "post": "Bưu chính"}.get(key, key)
    return {"key": key, "label": label, **{c: row[c] for c in COUNTS}}


def agency_name(code: str, catalogue: Catalogue | None) -> str:
    """The agency's name as the catalogue gives it (the code when it does not list it)."""
    for procedure in catalogue or ():
        if procedure.receiving_agency.code == code:
            return procedure.receiving_agency.name
    return code


def _by_field(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Procedures' rows summed per field (lĩnh vực), in the fields' order."""
    merged: dict[str, dict[str, Any]] = {}
    for r in rows:
        into = merged.setdefault(r["key"], {"key": r["key"], "label": r["label"]})
        for c in COUNTS:
            into[c] = into.get(c, 0) + r[c]
    return [merged[k] for k in sorted(merged)]
