"""The sync's table: each dossier's latest record, and how far the portal has it.

One row per dossier. The consumer writes ``version`` and ``record`` in the unit of work
that records the new version (``PortalDossier``), so the row never disagrees with the
events; the pusher writes only the sync columns (``synced_version``, ``attempts``,
``due_at``, ``lease_owner``, ``last_error``, ``synced_at``). The row is the pusher's
queue: a dossier is due while ``synced_version < version`` and ``due_at`` has come.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from motcua.runtime.store import Tx, Write
from services.portal.domain import PortalDossier


def create_tables(tx: Tx) -> None:
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {portal_records} (
            dossier_id TEXT PRIMARY KEY,
            code TEXT NOT NULL,
            procedure_id TEXT NOT NULL,
            agency_code TEXT NOT NULL,
            status TEXT NOT NULL,
            version INTEGER NOT NULL,
            record TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            synced_version INTEGER NOT NULL,
            synced_at TEXT,
            attempts INTEGER NOT NULL,
            due_at TEXT NOT NULL,
            lease_owner TEXT,
            last_error TEXT
        )
        """
    )
    tx.execute("CREATE INDEX IF NOT EXISTS portal_due ON {portal_records} (due_at)")
    tx.execute("CREATE UNIQUE INDEX IF NOT EXISTS portal_code ON {portal_records} (code)")


def record_row(dossier: PortalDossier, changed_at: datetime) -> Write:
    """The row of the dossier's latest version. A dossier in step with the portal is due
    at once; one whose sends are failing keeps its backoff (the portal is down: sending
    the newer version at once would only fail sooner), and one being sent keeps its
    lease (another instance sending the newer version meanwhile could overtake it: the
    send's end makes the row due again)."""
    r = dossier.record
    values = (
        str(dossier.id),
        dossier.code,
        r["MaTTHC"],
        r["MaCoQuan"],
        r["TrangThaiHoSo"],
        dossier.version,
        json.dumps(r, ensure_ascii=False, sort_keys=True),
        changed_at.isoformat(),
        changed_at.isoformat(),
    )

    def upsert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {portal_records} AS r (dossier_id, code, procedure_id, agency_code, "
            "status, version, record, changed_at, synced_version, attempts, due_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?) "
            "ON CONFLICT (dossier_id) DO UPDATE SET status = excluded.status, "
            "version = excluded.version, record = excluded.record, "
            "changed_at = excluded.changed_at, due_at = CASE WHEN r.attempts = 0 "
            "AND r.lease_owner IS NULL THEN excluded.due_at ELSE r.due_at END",
            values,
        )

    return upsert


def decoded(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the API shows it: the record as JSON, not text."""
    return {**row, "record": json.loads(row["record"])}
