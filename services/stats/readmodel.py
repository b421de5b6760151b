"""The statistics tables: one row per dossier, one per (dossier, agency with steps), and
the reports' facts (``facts.py``): one row per dossier, per supplement pause, per feedback.

The published figures are GROUP BY queries over these rows (``figures.py``), so every
number can be explained down to the dossiers behind it, and a replay that rebuilds the
rows gives the same figures. Table names take a suffix: a replay fills
``stats_dossiers_rebuild``, ``stats_agency_steps_rebuild`` and the facts' ``*_rebuild``
tables while the live tables keep serving, then swaps them all in (``application.py``).
The live tables' shape is versioned by ``migrations.py``; ``create_tables`` gives the
latest shape, which the rebuilt tables have.

Booleans are stored as 0/1 integers and dates as ISO text, the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from motcua.runtime.store import Tx
from services.stats.facts import Dossier, Facts, Feedback, Pause
from services.stats.projection import AgencySteps, DossierStats

DOSSIERS = "stats_dossiers"
AGENCY_STEPS = "stats_agency_steps"
FACTS = "stats_facts"
PAUSES = "stats_pauses"
FEEDBACK = "stats_feedback"
TABLES = (DOSSIERS, AGENCY_STEPS, FACTS, PAUSES, FEEDBACK)
REBUILD = "_rebuild"

DOSSIER_COLUMNS = (
    "dossier_id",
    "year",
    "procedure_id",
    "procedure_name",
    "level",
    "channel",
    "agency_code",
    "appointment_date",
    "status",
    "timeliness",
    "paused",
    "overdue",
    "late_agency",
    "fees_vnd",
    "rating",
    "rated_at",
    "updated_at",
    "statutory_date",
    "statutory_at",
    "apologised",
)
AGENCY_COLUMNS = (
    "dossier_id",
    "agency_code",
    "year",
    "procedure_id",
    "level",
    "channel",
    "steps",
    "steps_done",
    "steps_late",
    "steps_overdue",
)
FACT_COLUMNS = tuple(Facts.__dataclass_fields__)
PAUSE_COLUMNS = tuple(Pause.__dataclass_fields__)
FEEDBACK_COLUMNS = tuple(Feedback.__dataclass_fields__)
# Rows are inserted as many at a time, within SQLite's limit on bound parameters.
BATCH_ROWS = 500


def create_tables(tx: Tx, suffix: str = "", *, indexes: bool = True) -> None:
    """The two tables, named with ``suffix``; the replay builds its tables without indexes."""
    tx.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {{{DOSSIERS}{suffix}}} (
            dossier_id TEXT PRIMARY KEY,
            year INTEGER NOT NULL,
            procedure_id TEXT NOT NULL,
            procedure_name TEXT NOT NULL,
            level INTEGER NOT NULL,
            channel TEXT NOT NULL,
            agency_code TEXT NOT NULL,
            appointment_date TEXT NOT NULL,
            status TEXT NOT NULL,
            timeliness TEXT,
            paused INTEGER NOT NULL,
            overdue INTEGER NOT NULL,
            late_agency TEXT,
            fees_vnd BIGINT NOT NULL,
            rating INTEGER,
            rated_at TEXT,
            updated_at TEXT NOT NULL,
            statutory_date TEXT,
            statutory_at TEXT,
            apologised INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    tx.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {{{AGENCY_STEPS}{suffix}}} (
            dossier_id TEXT NOT NULL,
            agency_code TEXT NOT NULL,
            year INTEGER NOT NULL,
            procedure_id TEXT NOT NULL,
            level INTEGER NOT NULL,
            channel TEXT NOT NULL,
            steps INTEGER NOT NULL,
            steps_done INTEGER NOT NULL,
            steps_late INTEGER NOT NULL,
            steps_overdue INTEGER NOT NULL,
            PRIMARY KEY (dossier_id, agency_code)
        )
        """
    )
    create_fact_tables(tx, suffix)
    if indexes:
        create_indexes(tx)


def create_fact_tables(tx: Tx, suffix: str = "") -> None:
    """The reports' facts: times are ``facts.instant`` text, dates ISO text."""
    tx.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {{{FACTS}{suffix}}} (
            dossier_id TEXT PRIMARY KEY,
            procedure_id TEXT NOT NULL,
            procedure_name TEXT NOT NULL,
            agency_code TEXT NOT NULL,
            level INTEGER NOT NULL,
            channel TEXT NOT NULL,
            submitted_at TEXT,
            received_at TEXT,
            appointment_date TEXT,
            appointment_at TEXT,
            receipt_date TEXT,
            receipt_at TEXT,
            outcome TEXT,
            outcome_at TEXT,
            timeliness TEXT,
            result_kind TEXT,
            overdue_at TEXT,
            apologised_at TEXT,
            fees_assessed_at TEXT,
            fees_waived_at TEXT,
            paid_at TEXT,
            paid_online INTEGER NOT NULL,
            rating INTEGER,
            rated_at TEXT
        )
        """
    )
    tx.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {{{PAUSES}{suffix}}} (
            dossier_id TEXT NOT NULL,
            n INTEGER NOT NULL,
            requested_at TEXT NOT NULL,
            provided_at TEXT,
            appointment_date TEXT,
            appointment_at TEXT,
            PRIMARY KEY (dossier_id, n)
        )
        """
    )
    tx.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {{{FEEDBACK}{suffix}}} (
            feedback_id TEXT PRIMARY KEY,
            dossier_id TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            answered_at TEXT
        )
        """
    )


def create_indexes(tx: Tx) -> None:
    """The live tables' indexes (by year, the filter of every year-to-date query; by
    receipt and by outcome, the two times every report selects on)."""
    tx.execute(
        f"CREATE INDEX IF NOT EXISTS {DOSSIERS}_by_year "
        f"ON {{{DOSSIERS}}} (year, procedure_id, agency_code)"
    )
    tx.execute(
        f"CREATE INDEX IF NOT EXISTS {AGENCY_STEPS}_by_year "
        f"ON {{{AGENCY_STEPS}}} (year, procedure_id, agency_code)"
    )
    tx.execute(f"CREATE INDEX IF NOT EXISTS {FACTS}_by_receipt ON {{{FACTS}}} (received_at)")
    tx.execute(f"CREATE INDEX IF NOT EXISTS {FACTS}_by_outcome ON {{{FACTS}}} (outcome_at)")


def drop_tables(tx: Tx, suffix: str) -> None:
    for table in TABLES:
        tx.execute(f"DROP TABLE IF EXISTS {{{table}{suffix}}}")


def swap_in(tx: Tx, suffix: str) -> None:
    """Replace the live tables by the ``suffix`` ones (call inside one transaction).

    ``RENAME TO`` takes a bare name on both databases: on PostgreSQL the table stays in
    its schema, and a qualified target is a syntax error.
    """
    drop_tables(tx, "")
    for table in TABLES:
        tx.execute(f"ALTER TABLE {{{table}{suffix}}} RENAME TO {table}")
    create_indexes(tx)


# -- rows -------------------------------------------------------------------------------


_dossier_fields = attrgetter(*DOSSIER_COLUMNS)
_agency_fields = attrgetter(*AGENCY_COLUMNS)
_PAUSED, _OVERDUE = DOSSIER_COLUMNS.index("paused"), DOSSIER_COLUMNS.index("overdue")
_APOLOGISED = DOSSIER_COLUMNS.index("apologised")
_fact_fields = attrgetter(*FACT_COLUMNS)
_pause_fields = attrgetter(*PAUSE_COLUMNS)
_feedback_fields = attrgetter(*FEEDBACK_COLUMNS)
_PAID_ONLINE = FACT_COLUMNS.index("paid_online")


def dossier_values(d: DossierStats) -> tuple[Any, ...]:
    """The row's values in ``DOSSIER_COLUMNS`` order (booleans as 0/1)."""
    values: list[Any] = list(_dossier_fields(d))
    values[_PAUSED], values[_OVERDUE] = int(d.paused), int(d.overdue)
    values[_APOLOGISED] = int(d.apologised)
    return tuple(values)


def fact_values(f: Facts) -> tuple[Any, ...]:
    values: list[Any] = list(_fact_fields(f))
    values[_PAID_ONLINE] = int(f.paid_online)
    return tuple(values)


def pause_values(p: Pause) -> tuple[Any, ...]:
    values: tuple[Any, ...] = _pause_fields(p)
    return values


def feedback_values(f: Feedback) -> tuple[Any, ...]:
    values: tuple[Any, ...] = _feedback_fields(f)
    return values


def agency_values(a: AgencySteps) -> tuple[Any, ...]:
    values: tuple[Any, ...] = _agency_fields(a)
    return values


def dossier_from_row(row: dict[str, Any]) -> DossierStats:
    values = {c: row[c] for c in DOSSIER_COLUMNS}
    values.update(paused=bool(row["paused"]), overdue=bool(row["overdue"]))
    values.update(apologised=bool(row["apologised"]))
    values.update({c: int(row[c]) for c in ("year", "level", "fees_vnd")})
    return DossierStats(**values)


def agency_from_row(row: dict[str, Any]) -> AgencySteps:
    values = {c: row[c] for c in AGENCY_COLUMNS}
    values.update({c: int(row[c]) for c in (*AGENCY_COLUMNS[6:], "year", "level")})
    return AgencySteps(**values)


def load_dossier(tx: Tx, dossier_id: str) -> DossierStats | None:
    columns = ", ".join(DOSSIER_COLUMNS)
    tx.execute(f"SELECT {columns} FROM {{{DOSSIERS}}} WHERE dossier_id = ?", (dossier_id,))
    row = tx.fetchone()
    return None if row is None else dossier_from_row(row)


def load_agency(tx: Tx, dossier_id: str, agency_code: str) -> AgencySteps | None:
    columns = ", ".join(AGENCY_COLUMNS)
    tx.execute(
        f"SELECT {columns} FROM {{{AGENCY_STEPS}}} WHERE dossier_id = ? AND agency_code = ?",
        (dossier_id, agency_code),
    )
    row = tx.fetchone()
    return None if row is None else agency_from_row(row)


def load_facts(tx: Tx, dossier_id: str) -> Dossier | None:
    """A dossier's facts and pauses (None: no facts yet)."""
    tx.execute(
        f"SELECT {', '.join(FACT_COLUMNS)} FROM {{{FACTS}}} WHERE dossier_id = ?", (dossier_id,)
    )
    row = tx.fetchone()
    if row is None:
        return None
    values = {c: row[c] for c in FACT_COLUMNS}
    values.update(level=int(row["level"]), paid_online=bool(row["paid_online"]))
    if row["rating"] is not None:
        values["rating"] = int(row["rating"])
    tx.execute(
        f"SELECT {', '.join(PAUSE_COLUMNS)} FROM {{{PAUSES}}} WHERE dossier_id = ? ORDER BY n",
        (dossier_id,),
    )
    pauses = [Pause(**{**r, "n": int(r["n"])}) for r in tx.fetchall()]
    return Dossier(Facts(**values), pauses)


def save_facts(tx: Tx, d: Dossier) -> None:
    """Write a dossier's facts and its pauses (a dossier has few: all are rewritten)."""
    _upsert(tx, FACTS, FACT_COLUMNS, ("dossier_id",), fact_values(d.facts))
    tx.execute(f"DELETE FROM {{{PAUSES}}} WHERE dossier_id = ?", (d.facts.dossier_id,))
    insert_many(tx, PAUSES, PAUSE_COLUMNS, map(pause_values, d.pauses))


def load_feedback(tx: Tx, feedback_id: str) -> Feedback | None:
    tx.execute(
        f"SELECT {', '.join(FEEDBACK_COLUMNS)} FROM {{{FEEDBACK}}} WHERE feedback_id = ?",
        (feedback_id,),
    )
    row = tx.fetchone()
    return None if row is None else Feedback(**row)


def upsert_feedback(tx: Tx, f: Feedback) -> None:
    _upsert(tx, FEEDBACK, FEEDBACK_COLUMNS, ("feedback_id",), feedback_values(f))


def upsert_dossier(tx: Tx, d: DossierStats) -> None:
    _upsert(tx, DOSSIERS, DOSSIER_COLUMNS, ("dossier_id",), dossier_values(d))


def upsert_agency(tx: Tx, a: AgencySteps) -> None:
    _upsert(tx, AGENCY_STEPS, AGENCY_COLUMNS, ("dossier_id", "agency_code"), agency_values(a))


def _upsert(
    tx: Tx, table: str, columns: Sequence[str], key: Sequence[str], values: Sequence[Any]
) -> None:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    tx.execute(
        f"INSERT INTO {{{table}}} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}",
        values,
    )


def insert_many(tx: Tx, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` into ``{table}`` in multi-row statements; the number inserted."""
    batch: list[Sequence[Any]] = []
    count = 0
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            count += _insert_batch(tx, table, columns, batch)
            batch = []
    if batch:
        count += _insert_batch(tx, table, columns, batch)
    return count


def _insert_batch(tx: Tx, table: str, columns: Sequence[str], batch: list[Sequence[Any]]) -> int:
    one = f"({', '.join('?' * len(columns))})"
    tx.execute(
        f"INSERT INTO {{{table}}} ({', '.join(columns)}) VALUES {', '.join([one] * len(batch))}",
        [value for row in batch for value in row],
    )
    return len(batch)
