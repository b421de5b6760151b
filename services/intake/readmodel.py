"""Intake's SQL tables beside its events: the dossier lookup rows and the attachments.

``dossier_row`` is saved in the same transaction as the dossier's events, so the
lookup by code, the applicant's list and the one-stop queue never disagree with them.
"""

from __future__ import annotations

from motcua.store import Tx, Write
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
        dossier.modified_on.isoformat(),
    )

    def upsert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {intake_dossiers} (id, code, agency_code, procedure_id, procedure_name, "
            "channel, status, applicant_account, applicant_name, submitted_at, received_at, "
            "appointment_date, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET code = excluded.code, status = excluded.status, "
            "received_at = excluded.received_at, appointment_date = excluded.appointment_date, "
            "updated_at = excluded.updated_at",
            values,
        )

    return upsert
