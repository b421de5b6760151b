"""Intake's SQL tables beside its events: the dossier lookup rows and the feedback queue.

``dossier_row`` and ``feedback_row`` are saved in the same transaction as the dossier's
events, so the lookup by code, the applicant's list, the one-stop queue and the queue
of unanswered feedback never disagree with them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from motcua.runtime import directory
from motcua.runtime.migrations import Component, Step
from motcua.runtime.store import Tx, Write
from services.intake.domain import Dossier


def create_tables(tx: Tx) -> None:
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {intake_dossiers} (
            id TEXT PRIMARY KEY,
            code TEXT UNIQUE,
            agency_code TEXT NOT NULL,
            procedure_id TEXT NOT NULL,
            procedure_name TEXT NOT NULL,
            channel TEXT NOT NULL,
            status TEXT NOT NULL,
            applicant_account TEXT,
            applicant_name TEXT NOT NULL,
            submitted_at TEXT NOT NULL,
            received_at TEXT,
            appointment_date TEXT,
            updated_at TEXT NOT NULL
        )
        """
    )
    tx.execute(
        "CREATE INDEX IF NOT EXISTS intake_dossiers_by_agency "
        "ON {intake_dossiers} (agency_code, status, submitted_at)"
    )
    tx.execute(
        "CREATE INDEX IF NOT EXISTS intake_dossiers_by_applicant "
        "ON {intake_dossiers} (applicant_account, submitted_at)"
    )
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {intake_feedback} (
            feedback_id TEXT PRIMARY KEY,
            dossier_id TEXT NOT NULL,
            code TEXT,
            agency_code TEXT NOT NULL,
            procedure_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            answer TEXT,
            answered_by TEXT,
            answered_at TEXT
        )
        """
    )
    tx.execute(
        "CREATE INDEX IF NOT EXISTS intake_feedback_by_agency "
        "ON {intake_feedback} (agency_code, answered_at, sent_at)"
    )


def _appointment_moment(tx: Tx) -> None:
    """The appointment to the minute (UTC ISO text) beside its date, for the lookup's
    return time with its hour; None for a dossier received before working hours."""
    tx.execute("ALTER TABLE {intake_dossiers} ADD COLUMN appointment_at TEXT")


# Intake's own tables, versioned like the runtime's (``motcua/runtime/migrations.py``);
# step 1 changes the table ``create_tables`` made in the releases before; step 2 adds the
# directory of agencies and officers (``motcua/runtime/directory.py``), which intake owns.
INTAKE_TABLES = Component(
    "intake",
    (
        Step(1, "intake_dossiers: appointment_at", _appointment_moment),
        Step(
            2,
            "directory_agencies, directory_officers, directory_state: the directory",
            directory.create_tables,
        ),
    ),
)


def utc_text(moment: datetime | None) -> str | None:
    """A moment as UTC ISO text (what the ``*_at`` columns hold), or None."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def dossier_row(dossier: Dossier) -> Write:
    """The upsert of the dossier's lookup row, to run in the transaction saving its events."""
    submitted_at = dossier.created_on.isoformat()
    values = (
        str(dossier.id),
        dossier.code,
        dossier.agency_code,
        dossier.procedure_id,
        dossier.procedure_name,
        dossier.channel,
        dossier.status,
        dossier.applicant.get("account"),
        dossier.applicant.get("full_name", ""),
        submitted_at,
        dossier.received_at.isoformat() if dossier.received_at else None,
        dossier.appointment_date.isoformat() if dossier.appointment_date else None,
        utc_text(dossier.appointment_at),
        dossier.modified_on.isoformat(),
    )

    def upsert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {intake_dossiers} (id, code, agency_code, procedure_id, procedure_name, "
            "channel, status, applicant_account, applicant_name, submitted_at, received_at, "
            "appointment_date, appointment_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET code = excluded.code, status = excluded.status, "
            "received_at = excluded.received_at, appointment_date = excluded.appointment_date, "
            "appointment_at = excluded.appointment_at, updated_at = excluded.updated_at",
            values,
        )

    return upsert


def feedback_row(dossier: Dossier, feedback_id: str) -> Write:
    """The upsert of one feedback's queue row, after it was sent or answered.

    Called right after the change, so ``modified_on`` is the time of that event: the
    sending time for a new row, the answering time for an answer.
    """
    item = dossier.feedback[feedback_id]
    at = dossier.modified_on.isoformat()
    answered = item["answer"] is not None
    values = (
        feedback_id,
        str(dossier.id),
        dossier.code,
        dossier.agency_code,
        dossier.procedure_id,
        item["kind"],
        item["text"],
        at,
        item["answer"],
        item.get("answered_by"),
        at if answered else None,
    )

    def upsert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {intake_feedback} (feedback_id, dossier_id, code, agency_code, "
            "procedure_id, kind, text, sent_at, answer, answered_by, answered_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (feedback_id) DO UPDATE SET code = excluded.code, "
            "answer = excluded.answer, answered_by = excluded.answered_by, "
            "answered_at = excluded.answered_at",
            values,
        )

    return upsert
