"""Workflow's timeline read model: the whole answer of ``GET …/timeline`` in one row.

Officers' and applicants' screens poll the timeline; built from the aggregate, each
answer replayed the process and read its events a second time for the history, a cost
that grows with the dossier's life. The ``workflow_timelines`` row holds the answer's
document instead, written in the transaction of every save of the process (``row``),
its history extended by the events of that save. One row is one state: the steps and
the history beside them always belong to the same version.

A process saved before the table existed has no row: its first read builds the
document from the aggregate and keeps it (``keep``); a save that finds no row (or an
older one than its events follow) takes the earlier history from the stored events, in
its own transaction. Both writes keep the newer version when they race.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application

from motcua.runtime.documents import (
    create_document_table,
    decode_document,
    entries_before,
    upsert_document,
)
from motcua.runtime.store import Store, Tx, Write
from services.workflow.domain import Process

STEP_FIELDS = (
    "id",
    "name",
    "agency_code",
    "agency_name",
    "role",
    "working_days",
    "status",
    "officer",
    "started_on",
    "due_date",
    "due_at",
    "completed_on",
    "overdue",
)


def create_table(tx: Tx) -> None:
    create_document_table(tx, "workflow_timelines", "code TEXT NOT NULL", "applicant_account TEXT")
    tx.execute("CREATE INDEX IF NOT EXISTS workflow_timelines_code ON {workflow_timelines} (code)")


def history_entry(event: Any) -> dict[str, Any]:
    """One workflow event as the timeline's history shows it: what, when, by whom, in
    which step role (officers' acts on a step, from step roles on)."""
    return {
        "event": type(event).__qualname__.split(".")[-1],
        "at": cast(Any, event).timestamp,
        "by": getattr(event, "officer", None) or getattr(event, "by", None),
        "role": getattr(event, "role", None),
    }


def timeline_document(process: Process, history: list[dict[str, Any]]) -> dict[str, Any]:
    """The timeline of this state of the process, with the history given for it."""
    blocked = None
    if process.status == "in_progress" and process.is_last_step:
        if not process.approved:
            blocked = "waiting for approval"
        elif not process.paid:
            blocked = "waiting for payment of the fee (no payment recorded yet)"
    return {
        "dossier_id": process.id,
        "code": process.code,
        "procedure_name": process.procedure_name,
        "status": process.status,
        "agency_code": process.agency,
        "received_on": process.received_on,
        "appointment_date": process.appointment_date,
        "appointment_at": getattr(process, "appointment_at", None),
        "statutory_appointment_date": process.statutory_appointment_date,
        "overdue": process.overdue,
        "responsible_agency": process.responsible_agency,
        "paid": process.paid,
        "approved": process.approved,
        "steps": [
            {"index": i, **{k: step.get(k) for k in STEP_FIELDS}}
            for i, step in enumerate(process.steps)
        ],
        "pauses": [dict(pause) for pause in process.pauses],
        "history": history,
        "blocked": blocked,
    }


class Timelines:
    """Writes, reads and (for processes older than the table) builds the timeline rows."""

    def __init__(self, app: Application[UUID], store: Store) -> None:
        self.app, self.store = app, store
        store.write(create_table)

    def row(self, process: Process) -> Write:
        """The row of the process as it now stands, to write in the transaction that
        records its new events (taken now: ``app.save`` collects them before writing)."""
        new = [history_entry(e) for e in process.pending_events]
        first = process.version - len(new) + 1  # the version of the first new event
        state = timeline_document(process, [])

        def write(tx: Tx) -> None:
            history = self._history_before(tx, process.id, first) + new
            _upsert(tx, process, {**state, "history": history})

        return write

    def find(self, ref: str) -> tuple[str | None, dict[str, Any]] | None:
        """(applicant account, document) of the dossier with that id or code."""
        row = self.store.read_one(
            "SELECT applicant_account, document FROM {workflow_timelines} "
            "WHERE dossier_id = ? OR code = ?",
            (ref, ref),
        )
        if row is None:
            return None
        return row["applicant_account"], decode_document(row["document"])

    def keep(self, process: Process, history: list[dict[str, Any]]) -> dict[str, Any]:
        """The document of a process that has no row yet, written for the next reads."""
        document = timeline_document(process, history)
        self.store.write(lambda tx: _upsert(tx, process, document))
        return document

    def _history_before(self, tx: Tx, dossier_id: UUID, version: int) -> list[dict[str, Any]]:
        """The history of the events before ``version``: from the row when it has them,
        else from the stored events (a process saved before the table existed)."""
        return entries_before(
            self.app, tx, "workflow_timelines", "history", dossier_id, version, history_entry
        )


def _upsert(tx: Tx, process: Process, document: dict[str, Any]) -> None:
    upsert_document(
        tx,
        "workflow_timelines",
        process.id,
        process.version,
        document,
        code=process.code,
        applicant_account=process.applicant_account,
    )
