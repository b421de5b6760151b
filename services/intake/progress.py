"""What the applicant sees after acceptance: intake follows workflow's and notify's events.

The lookup by code (N-1, N-4) must show where a dossier is after acceptance. Intake
consumes the events of workflow, payment and notify from ``dossier-events`` and keeps,
per dossier, the applicant-facing steps (moved to another agency, supplement needed, result ready …)
and the current status and appointment, committed with the consumer's positions.
Internal details (which officer, notes) stay in workflow. The same rows tell intake
whether the result is out, which the applicant's rating waits for (S-3).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from contracts import payment as cp
from contracts import workflow as wf
from contracts.envelope import Envelope
from contracts.intake import DossierWithdrawn
from contracts.notify import NoticeDelivered, NoticeFailed
from motcua.runtime.handlers import Handlers
from motcua.runtime.store import Store, Tx
from motcua.runtime.unit_of_work import UnitOfWork
from services.intake.readmodel import utc_text

# Event type -> the status the applicant sees afterwards (None: unchanged).
PUBLIC: dict[type[Envelope], str | None] = {
    wf.DossierHandedOver: "in_process",
    wf.SupplementRequested: "supplement_requested",
    wf.SupplementProvided: "in_process",
    wf.DossierApproved: "approved",
    wf.DossierRejected: "rejected",
    wf.ResultIssued: "result_ready",
    wf.ResultReturned: "returned",
    wf.DossierOverdue: None,
    wf.ApologyIssued: None,
    DossierWithdrawn: "withdrawn",
    NoticeDelivered: None,
    NoticeFailed: None,
    cp.FeeAssessed: None,
    cp.FeeWaived: None,
    cp.PaymentSucceeded: None,
    cp.RefundSucceeded: None,
}
DETAILS = (
    "channel",
    "to_agency",
    "reason",
    "documents",
    "document",  # the electronic result's name, type, size and SHA-256: workflow serves it
    "appointment_date",
    "kind",
    "method",
    "agency_code",
    "responsible_agency",
    "payment_code",
    "amount_vnd",
    "receipt_number",
)


def create_table(tx: Tx) -> None:
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {intake_progress} (
            event_id TEXT PRIMARY KEY,
            dossier_id TEXT NOT NULL,
            at TEXT NOT NULL,
            event TEXT NOT NULL,
            agency TEXT,
            details TEXT NOT NULL
        )
        """
    )
    tx.execute(
        "CREATE INDEX IF NOT EXISTS intake_progress_by_dossier "
        "ON {intake_progress} (dossier_id, at)"
    )


class Progress:
    """Handler of intake's tracked consumer, and the query behind the public timeline."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.write(create_table)

    def handlers(self) -> Handlers:
        """The other services' public steps; the rest is only tracked by the consumer."""
        return Handlers({tuple(PUBLIC): self.follow})

    @staticmethod
    def follow(event: Envelope, uow: UnitOfWork) -> None:
        """Record a public step of another service (intake's own events are its truth)."""
        if event.producer in ("workflow", "payment", "notify"):
            uow.write(_record(event))

    def result_issued(self, dossier_id: str) -> bool:
        """Whether workflow has issued (or returned) the dossier's result: rating opens then."""
        row = self.store.read_one(
            "SELECT 1 AS found FROM {intake_progress} WHERE dossier_id = ? AND event IN (?, ?)",
            (dossier_id, wf.ResultIssued.__name__, wf.ResultReturned.__name__),
        )
        return row is not None

    @staticmethod
    def timeline(tx: Tx, dossier_id: str) -> list[dict[str, Any]]:
        """The dossier's public steps, read in the caller's transaction (one snapshot with
        the status they set)."""
        tx.execute(
            "SELECT at, event, agency, details FROM {intake_progress} "
            "WHERE dossier_id = ? ORDER BY at",
            (dossier_id,),
        )
        return [
            {
                "event": r["event"],
                "at": datetime.fromisoformat(r["at"]),
                "by": r["agency"],
                "details": json.loads(r["details"]),
            }
            for r in tx.fetchall()
        ]


def _record(event: Envelope) -> Any:
    data = event.model_dump(mode="json")
    details = {k: data[k] for k in DETAILS if data.get(k) not in (None, [], ())}
    if isinstance(event, wf.SupplementRequested | wf.SupplementProvided):
        details.pop("documents", None)
        if isinstance(event, wf.SupplementRequested):
            details["documents"] = list(event.documents)
    status = PUBLIC[type(event)]
    moves = isinstance(event, wf.SupplementProvided | wf.ApologyIssued)
    appointment = data.get("appointment_date") if moves else None
    # A supplement moves the moment with the date; an apology promises a date only.
    appointment_at = (
        utc_text(event.appointment_at) if isinstance(event, wf.SupplementProvided) else None
    )

    def write(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {intake_progress} (event_id, dossier_id, at, event, agency, details) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
            (
                str(event.event_id),
                str(event.dossier_id),
                event.occurred_at.isoformat(),
                type(event).__name__,
                details.get("agency_code"),
                json.dumps(details),
            ),
        )
        if status:
            tx.execute(
                "UPDATE {intake_dossiers} SET status = ? WHERE id = ?",
                (status, str(event.dossier_id)),
            )
        if appointment:
            tx.execute(
                "UPDATE {intake_dossiers} SET appointment_date = ?, appointment_at = ? "
                "WHERE id = ?",
                (appointment, appointment_at, str(event.dossier_id)),
            )

    return write
