"""Workflow's lookup table, saved in the same transaction as each process's events.

It serves the agency queues (filter by step, due soon, overdue) and lets the clock find
the processes whose deadlines have passed without loading every aggregate.
"""

from __future__ import annotations

from datetime import UTC, datetime

from motcua.runtime import directory
from motcua.runtime.migrations import Component, Step
from motcua.runtime.store import Tx, Write
from services.catalogue.procedures import load_catalogue
from services.workflow.domain import Process


def create_tables(tx: Tx) -> None:
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {workflow_processes} (
            dossier_id TEXT PRIMARY KEY,
            code TEXT NOT NULL,
            procedure_id TEXT NOT NULL,
            procedure_name TEXT NOT NULL,
            applicant_account TEXT,
            agency_code TEXT NOT NULL,
            step_index INTEGER NOT NULL,
            step_id TEXT NOT NULL,
            step_name TEXT NOT NULL,
            officer TEXT,
            status TEXT NOT NULL,
            step_due_date TEXT,
            step_overdue INTEGER NOT NULL,
            appointment_date TEXT NOT NULL,
            overdue INTEGER NOT NULL,
            paid INTEGER NOT NULL,
            approved INTEGER,
            updated_at TEXT NOT NULL
        )
        """
    )
    tx.execute(
        "CREATE INDEX IF NOT EXISTS workflow_processes_queue "
        "ON {workflow_processes} (agency_code, status, step_due_date)"
    )
    tx.execute(
        "CREATE INDEX IF NOT EXISTS workflow_processes_clock "
        "ON {workflow_processes} (status, step_due_date, appointment_date)"
    )


def _deadline_moments(tx: Tx) -> None:
    """The step's deadline and the appointment to the minute (UTC ISO text, so that they
    compare as text), for the clock; None for a process started before working hours."""
    tx.execute("ALTER TABLE {workflow_processes} ADD COLUMN step_due_at TEXT")
    tx.execute("ALTER TABLE {workflow_processes} ADD COLUMN appointment_at TEXT")


def _step_role(tx: Tx) -> None:
    """The current step's role (mot_cua, chuyen_vien, lanh_dao), for the queue's
    ``can_act``. Existing rows take it from the shipped catalogue, the source their
    steps were planned from; the next save of each process writes its own step's role."""
    tx.execute("ALTER TABLE {workflow_processes} ADD COLUMN step_role TEXT")
    for procedure in load_catalogue():
        for index, step in enumerate(procedure.process):
            tx.execute(
                "UPDATE {workflow_processes} SET step_role = ? "
                "WHERE procedure_id = ? AND step_index = ? AND step_id = ?",
                (step.role, procedure.id, index, step.id),
            )


# Workflow's own tables, versioned like the runtime's (``motcua/runtime/migrations.py``);
# step 1 changes the table ``create_tables`` made in the releases before; step 3 adds the
# directory of agencies and officers as consumed from intake (``motcua/runtime/directory.py``),
# by which steps are assigned.
WORKFLOW_TABLES = Component(
    "workflow",
    (
        Step(1, "workflow_processes: step_due_at, appointment_at", _deadline_moments),
        Step(2, "workflow_processes: step_role", _step_role),
        Step(
            3,
            "directory_agencies, directory_officers, directory_state: the directory",
            directory.create_tables,
        ),
    ),
)


def _utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def process_row(process: Process) -> Write:
    step = process.step
    due = step.get("due_date")
    values = (
        str(process.id),
        process.code,
        process.procedure_id,
        process.procedure_name,
        process.applicant_account,
        process.agency,
        process.current,
        step["id"],
        step["name"],
        step["officer"],
        process.status,
        due.isoformat() if due else None,
        int(step["overdue"]),
        process.appointment_date.isoformat(),
        int(process.overdue),
        int(process.paid),
        None if process.approved is None else int(process.approved),
        process.modified_on.isoformat(),
        _utc(step.get("due_at")),
        _utc(getattr(process, "appointment_at", None)),
        step["role"],
    )
    columns = (
        "dossier_id, code, procedure_id, procedure_name, applicant_account, agency_code, "
        "step_index, step_id, step_name, officer, status, step_due_date, step_overdue, "
        "appointment_date, overdue, paid, approved, updated_at, step_due_at, appointment_at, "
        "step_role"
    )
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", ")[5:])

    def upsert(tx: Tx) -> None:
        tx.execute(
            f"INSERT INTO {{workflow_processes}} ({columns}) VALUES "
            f"({', '.join('?' * len(values))}) ON CONFLICT (dossier_id) DO UPDATE SET {updates}",
            values,
        )

    return upsert
