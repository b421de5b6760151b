"""The statistics tables: one row per dossier, one per (dossier, agency with steps).

The published figures are GROUP BY queries over these rows (``figures.py``), so every
number can be explained down to the dossiers behind it, and a replay that rebuilds the
rows gives the same figures. Table names take a suffix: a replay fills
``stats_dossiers_rebuild`` and ``stats_agency_steps_rebuild`` while the live tables keep
serving, then swaps them in (``application.py``).

Booleans are stored as 0/1 integers and dates as ISO text, the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from motcua.runtime.store import Tx
from services.stats.projection import AgencySteps, DossierStats

DOSSIERS = "stats_dossiers"
AGENCY_STEPS = "stats_agency_steps"
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
            updated_at TEXT NOT NULL
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
    if indexes:
        create_indexes(tx)


def create_indexes(tx: Tx) -> None:
    """The live tables' indexes (by year, the filter of every query)."""
    tx.execute(
        f"CREATE INDEX IF NOT EXISTS {DOSSIERS}_by_year "
        f"ON {{{DOSSIERS}}} (year, procedure_id, agency_code)"
    )
    tx.execute(
        f"CREATE INDEX IF NOT EXISTS {AGENCY_STEPS}_by_year "
        f"ON {{{AGENCY_STEPS}}} (year, procedure_id, agency_code)"
    )


def drop_tables(tx: Tx, suffix: str) -> None:
    tx.execute(f"DROP TABLE IF EXISTS {{{DOSSIERS}{suffix}}}")
    tx.execute(f"DROP TABLE IF EXISTS {{{AGENCY_STEPS}{suffix}}}")


def swap_in(tx: Tx, suffix: str) -> None:
    """Replace the live tables by the ``suffix`` ones (call inside one transaction).

    ``RENAME TO`` takes a bare name on both databases: on PostgreSQL the table stays in
    its schema, and a qualified target is a syntax error.
    """
    drop_tables(tx, "")
    for table in (DOSSIERS, AGENCY_STEPS):
        tx.execute(f"ALTER TABLE {{{table}{suffix}}} RENAME TO {table}")
    create_indexes(tx)


# -- rows -------------------------------------------------------------------------------


_dossier_fields = attrgetter(*DOSSIER_COLUMNS)
_agency_fields = attrgetter(*AGENCY_COLUMNS)
_PAUSED, _OVERDUE = DOSSIER_COLUMNS.index("paused"), DOSSIER_COLUMNS.index("overdue")


def dossier_values(d: DossierStats) -> tuple[Any, ...]:
    """The row's values in ``DOSSIER_COLUMNS`` order (booleans as 0/1)."""
    values: list[Any] = list(_dossier_fields(d))
    values[_PAUSED], values[_OVERDUE] = int(d.paused), int(d.overdue)
    return tuple(values)


def agency_values(a: AgencySteps) -> tuple[Any, ...]:
    values: tuple[Any, ...] = _agency_fields(a)
    return values


def dossier_from_row(row: dict[str, Any]) -> DossierStats:
    values = {c: row[c] for c in DOSSIER_COLUMNS}
    values.update(paused=bool(row["paused"]), overdue=bool(row["overdue"]))
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
