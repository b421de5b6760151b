"""Stats' own tables, versioned: the ``stats`` component of the store's ``schema_version``.

Step 1 is the shape the releases before versioning created in ``StatsApplication``'s
constructor, in their statements: on one of their stores it finds both tables and keeps
their rows. Step 2 adds what the reports and the statutory lateness need: three columns
of ``stats_dossiers`` (nullable or with a default, so that the previous release goes on
writing during a rolling update) and the facts tables.

What a migration cannot know. An old row does not say whether its dossier had an apology,
nor the appointment on its receipt once an apology moved it, and the facts' times were
never kept. Step 2 takes the row's appointment as the statutory one (an apology only
follows an overdue mark, and a dossier marked overdue counts late whatever the date), and
leaves the facts empty: ``motcua replay stats`` rebuilds every table, facts included,
from the topic, after which the reports cover the whole history.
"""

from __future__ import annotations

from motcua.runtime.migrations import Component, Step
from motcua.runtime.store import Tx

# Steps are history: their statements are copied here, never taken from readmodel.py,
# whose ``create_tables`` gives the latest shape (a test checks the two agree).
# Step 1: as the releases before versioning ran them (services/stats/readmodel.py then).
_STEP_1 = (
    """
    CREATE TABLE IF NOT EXISTS {stats_dossiers} (
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
    """,
    """
    CREATE TABLE IF NOT EXISTS {stats_agency_steps} (
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
    """,
    "CREATE INDEX IF NOT EXISTS stats_dossiers_by_year "
    "ON {stats_dossiers} (year, procedure_id, agency_code)",
    "CREATE INDEX IF NOT EXISTS stats_agency_steps_by_year "
    "ON {stats_agency_steps} (year, procedure_id, agency_code)",
)


def _step_1(tx: Tx) -> None:
    for statement in _STEP_1:
        tx.execute(statement)


_STEP_2 = (
    "ALTER TABLE {stats_dossiers} ADD COLUMN statutory_date TEXT",
    "ALTER TABLE {stats_dossiers} ADD COLUMN statutory_at TEXT",
    "ALTER TABLE {stats_dossiers} ADD COLUMN apologised INTEGER NOT NULL DEFAULT 0",
    "UPDATE {stats_dossiers} SET statutory_date = appointment_date",
    """
    CREATE TABLE IF NOT EXISTS {stats_facts} (
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
    """,
    """
    CREATE TABLE IF NOT EXISTS {stats_pauses} (
        dossier_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        requested_at TEXT NOT NULL,
        provided_at TEXT,
        appointment_date TEXT,
        appointment_at TEXT,
        PRIMARY KEY (dossier_id, n)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS {stats_feedback} (
        feedback_id TEXT PRIMARY KEY,
        dossier_id TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        answered_at TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS stats_facts_by_receipt ON {stats_facts} (received_at)",
    "CREATE INDEX IF NOT EXISTS stats_facts_by_outcome ON {stats_facts} (outcome_at)",
)


def _step_2(tx: Tx) -> None:
    for statement in _STEP_2:
        tx.execute(statement)


STATS = Component(
    "stats",
    (
        Step(1, "stats_dossiers, stats_agency_steps", _step_1),
        Step(
            2,
            "statutory appointment and apology of stats_dossiers; stats_facts, "
            "stats_pauses, stats_feedback",
            _step_2,
        ),
    ),
)
