"""Year-to-date figures (S-1, S-2, S-3): GROUP BY queries over the statistics rows.

Every figure is a count (or a sum of đồng) of rows of ``stats_dossiers``, so it can be
explained by listing the dossiers behind it; nothing is kept as a running total.

* Province scope: one row per (procedure, receiving agency, level, channel); each
  dossier is counted once, at the agency that received it.
* Agency scope: one row per (procedure, agency, level, channel) for each agency that
  had steps of the dossier; an inter-agency dossier is counted once at each of them,
  with that agency's own steps.

"Late" is against the statutory appointment (the receipt's, moved only by supplements):
an apology's new date does not make a late dossier on time, and "late, apologised" counts
the late ones for which the agency apologised in writing (a part of "late").

"In progress" is split at query time against ``now``: overdue when workflow marked it
overdue, or when its statutory appointment has passed while it is not paused for a
supplement (the statutory clock stops during a pause). The appointment's moment decides
where the receipt gave one (working hours), else its date against ``now``'s local date;
so the figure does not wait for workflow's overdue mark to arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal

from motcua.core.calendar import VIETNAM_TZ, local_date
from motcua.runtime.store import Store, Tx
from services.stats.facts import instant

Scope = Literal["province", "agency"]
ELIGIBLE_PERCENT = 30  # Circular 01/2018 art. 21: online share that qualifies for level 4

KEYS = ("procedure_id", "procedure_name", "agency_code", "level", "channel")
COUNTS = (
    "received",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
    "resolved_late_apologised",
    "in_progress_on_time",
    "in_progress_overdue",
    "paused_for_supplement",
    "refused",
    "withdrawn",
    "online_received",
    "fees_vnd",
    "ratings",
    "rating_sum",
    "late_attributed",
    "steps",
    "steps_done",
    "steps_late",
    "steps_overdue",
)
COLUMNS = (
    "kind",
    "year",
    "scope",
    *KEYS,
    *COUNTS,
    "average_rating",
    "online_share",
    "eligible_for_level_4",
)

_DUE_PASSED = (
    "(CASE WHEN d.statutory_at IS NOT NULL THEN d.statutory_at < ? "
    "ELSE COALESCE(d.statutory_date, d.appointment_date) < ? END)"
)
_LATE_NOW = f"(d.overdue = 1 OR (d.paused = 0 AND {_DUE_PASSED}))"
_DOSSIER_FIGURES = f"""
    COUNT(*) AS received,
    SUM(CASE WHEN d.status = 'resolved' AND d.timeliness = 'early' THEN 1 ELSE 0 END)
        AS resolved_early,
    SUM(CASE WHEN d.status = 'resolved' AND d.timeliness = 'on_time' THEN 1 ELSE 0 END)
        AS resolved_on_time,
    SUM(CASE WHEN d.status = 'resolved' AND d.timeliness = 'late' THEN 1 ELSE 0 END)
        AS resolved_late,
    SUM(CASE WHEN d.status = 'resolved' AND d.timeliness = 'late' AND d.apologised = 1
        THEN 1 ELSE 0 END) AS resolved_late_apologised,
    SUM(CASE WHEN d.status = 'in_progress' AND NOT {_LATE_NOW} THEN 1 ELSE 0 END)
        AS in_progress_on_time,
    SUM(CASE WHEN d.status = 'in_progress' AND {_LATE_NOW} THEN 1 ELSE 0 END)
        AS in_progress_overdue,
    SUM(CASE WHEN d.status = 'in_progress' AND d.paused = 1 THEN 1 ELSE 0 END)
        AS paused_for_supplement,
    SUM(CASE WHEN d.status = 'refused' THEN 1 ELSE 0 END) AS refused,
    SUM(CASE WHEN d.status = 'withdrawn' THEN 1 ELSE 0 END) AS withdrawn,
    SUM(CASE WHEN d.channel = 'online' THEN 1 ELSE 0 END) AS online_received,
    SUM(d.fees_vnd) AS fees_vnd,
    COUNT(d.rating) AS ratings,
    SUM(d.rating) AS rating_sum
"""
# Steps of each dossier, all agencies together (province scope).
_STEPS_PER_DOSSIER = """
    LEFT JOIN (
        SELECT dossier_id, SUM(steps) AS steps, SUM(steps_done) AS steps_done,
               SUM(steps_late) AS steps_late, SUM(steps_overdue) AS steps_overdue
        FROM {stats_agency_steps} WHERE year = ? GROUP BY dossier_id
    ) s ON s.dossier_id = d.dossier_id
"""


@dataclass(frozen=True)
class Filters:
    year: int
    procedure_id: str | None = None
    agency_code: str | None = None
    level: int | None = None
    channel: str | None = None


@dataclass(frozen=True)
class Ytd:
    """The figures of one query: rows, per-procedure summaries (S-2) and the totals row."""

    year: int
    today: date
    scope: Scope
    rows: list[dict[str, Any]]
    procedures: list[dict[str, Any]]
    totals: dict[str, Any] = field(default_factory=dict)

    def table(self) -> list[dict[str, Any]]:
        """The rows then the totals row, each with every key of ``COLUMNS``."""
        return [*self.rows, self.totals]


def ytd(
    store: Store,
    *,
    year: int,
    today: date,
    now: datetime | None = None,
    procedure_id: str | None = None,
    agency_code: str | None = None,
    level: int | None = None,
    channel: str | None = None,
    scope: Scope = "province",
) -> Ytd:
    """The year-to-date figures of ``year`` as of ``now`` (default: the start of ``today``,
    Vietnam time), filtered and scoped."""
    filters = Filters(year, procedure_id, agency_code, level, channel)
    as_of = _AsOf.of(today, now)
    with store.snapshot() as tx:  # the rows and the shares beside them count the same events
        rows = _rows(tx, filters, as_of, scope)
        every_procedure = _procedures(tx, Filters(year, procedure_id), as_of)
    present = {r["procedure_id"] for r in rows}
    procedures = [p for p in every_procedure if p["procedure_id"] in present]
    by_id = {p["procedure_id"]: p for p in procedures}
    for r in rows:
        p = by_id[r["procedure_id"]]
        r.update(online_share=p["online_share"], eligible_for_level_4=p["eligible_for_level_4"])
    return Ytd(year, today, scope, rows, procedures, _totals(rows, year, scope))


# -- queries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _AsOf:
    """The moment the in-progress dossiers are judged at, as the queries compare it."""

    instant: str  # fixed-width UTC text, as ``statutory_at`` is stored
    day: str  # its Vietnam-local date, for rows whose appointment has no moment

    @classmethod
    def of(cls, today: date, now: datetime | None) -> _AsOf:
        moment = now or datetime.combine(today, time.min, VIETNAM_TZ)
        return cls(instant(moment), local_date(moment).isoformat())

    def params(self) -> list[str]:
        """Twice (in progress on time, then overdue): the moment, then the day."""
        return [self.instant, self.day] * 2


def _rows(tx: Tx, f: Filters, as_of: _AsOf, scope: Scope) -> list[dict[str, Any]]:
    if scope == "agency":
        sql, params = _agency_query(f, as_of)
    else:
        sql, params = _province_query(f, as_of, group_by_agency=True)
    tx.execute(sql, params)
    return [_row(r, "row", f.year, scope) for r in tx.fetchall()]


def _procedures(tx: Tx, f: Filters, as_of: _AsOf) -> list[dict[str, Any]]:
    """Per procedure over the whole province (all agencies and channels): the S-2 share."""
    sql, params = _province_query(f, as_of, group_by_agency=False)
    tx.execute(sql, params)
    summaries = []
    for r in tx.fetchall():
        row = _row(r, "procedure", f.year, "province")
        row.update(_share(row["online_received"], row["received"], row["level"]))
        summaries.append(row)
    return summaries


def _province_query(f: Filters, as_of: _AsOf, *, group_by_agency: bool) -> tuple[str, list[Any]]:
    agency = "d.agency_code" if group_by_agency else "NULL"
    late = "d.late_agency = d.agency_code" if group_by_agency else "d.late_agency IS NOT NULL"
    keys = f"d.procedure_id, {agency}, d.level, d.channel" if group_by_agency else "d.procedure_id"
    level = "d.level" if group_by_agency else "MAX(d.level)"
    channel = "d.channel" if group_by_agency else "NULL"
    where, params = _where(f, agency_column="d.agency_code")
    sql = f"""
        SELECT d.procedure_id, MAX(d.procedure_name) AS procedure_name,
               {agency} AS agency_code, {level} AS level, {channel} AS channel,
               {_DOSSIER_FIGURES},
               SUM(CASE WHEN {late} THEN 1 ELSE 0 END) AS late_attributed,
               SUM(COALESCE(s.steps, 0)) AS steps, SUM(COALESCE(s.steps_done, 0)) AS steps_done,
               SUM(COALESCE(s.steps_late, 0)) AS steps_late,
               SUM(COALESCE(s.steps_overdue, 0)) AS steps_overdue
        FROM {{stats_dossiers}} d {_STEPS_PER_DOSSIER}
        WHERE {where}
        GROUP BY {keys} ORDER BY {keys}
    """
    return sql, [*as_of.params(), f.year, *params]


def _agency_query(f: Filters, as_of: _AsOf) -> tuple[str, list[Any]]:
    where, params = _where(f, agency_column="a.agency_code")
    keys = "d.procedure_id, a.agency_code, d.level, d.channel"
    sql = f"""
        SELECT d.procedure_id, MAX(d.procedure_name) AS procedure_name,
               a.agency_code AS agency_code, d.level AS level, d.channel AS channel,
               {_DOSSIER_FIGURES},
               SUM(CASE WHEN d.late_agency = a.agency_code THEN 1 ELSE 0 END) AS late_attributed,
               SUM(a.steps) AS steps, SUM(a.steps_done) AS steps_done,
               SUM(a.steps_late) AS steps_late, SUM(a.steps_overdue) AS steps_overdue
        FROM {{stats_agency_steps}} a JOIN {{stats_dossiers}} d ON d.dossier_id = a.dossier_id
        WHERE a.year = ? AND {where}
        GROUP BY {keys} ORDER BY {keys}
    """
    return sql, [*as_of.params(), f.year, *params]


def _where(f: Filters, *, agency_column: str) -> tuple[str, list[Any]]:
    conditions: list[str] = ["d.year = ?"]
    params: list[Any] = [f.year]
    for column, value in (
        ("d.procedure_id", f.procedure_id),
        (agency_column, f.agency_code),
        ("d.level", f.level),
        ("d.channel", f.channel),
    ):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(conditions), params


# -- rows -------------------------------------------------------------------------------


def _row(r: dict[str, Any], kind: str, year: int, scope: Scope) -> dict[str, Any]:
    """A result row with integer counts (PostgreSQL sums come back as Decimal)."""
    row: dict[str, Any] = {"kind": kind, "year": year, "scope": scope}
    row.update({k: r[k] for k in KEYS})
    if row["level"] is not None:
        row["level"] = int(row["level"])
    row.update({k: int(r[k] or 0) for k in COUNTS})
    row["average_rating"] = _average(row["rating_sum"], row["ratings"])
    row.update(online_share=None, eligible_for_level_4=None)
    return row


def _totals(rows: list[dict[str, Any]], year: int, scope: Scope) -> dict[str, Any]:
    """The column sums of ``rows`` (in agency scope a dossier counts once per agency)."""
    totals: dict[str, Any] = {"kind": "total", "year": year, "scope": scope}
    totals.update(dict.fromkeys(KEYS))
    totals.update({k: sum(r[k] for r in rows) for k in COUNTS})
    totals["average_rating"] = _average(totals["rating_sum"], totals["ratings"])
    share = _share(totals["online_received"], totals["received"], None)
    totals.update(online_share=share["online_share"], eligible_for_level_4=None)
    return totals


def _average(total: int, count: int) -> float | None:
    return round(total / count, 2) if count else None


def _share(online: int, received: int, level: int | None) -> dict[str, Any]:
    """The online share (display) and S-2 eligibility, decided in integers: no rounding."""
    return {
        "online_share": round(online / received, 4) if received else None,
        "eligible_for_level_4": (
            level == 3 and received > 0 and online * 100 >= received * ELIGIBLE_PERCENT
        )
        if level is not None
        else None,
    }
