"""Payment's lookup tables, saved in the same transaction as each bill's events.

They find a bill by payment code, dossier code or receipt number, find the attempts the
clock must expire and the refunds still to send, refuse a second offline payment with
the same reference (primary key), and list a day's transactions for reconciliation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from motcua.core.calendar import local_date
from motcua.core.errors import Conflict
from motcua.runtime.store import Tx, Write
from services.payment.bill_view import create_table as create_view_table
from services.payment.bill_view import view_row
from services.payment.domain import Bill


def create_tables(tx: Tx) -> None:
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {payment_bills} (
            dossier_id TEXT PRIMARY KEY,
            dossier_code TEXT NOT NULL,
            payment_code TEXT UNIQUE,
            procedure_id TEXT NOT NULL,
            applicant_account TEXT,
            agencies TEXT NOT NULL,
            amount_vnd BIGINT NOT NULL,
            paid_vnd BIGINT NOT NULL,
            refunded_vnd BIGINT NOT NULL,
            status TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    tx.execute("CREATE INDEX IF NOT EXISTS payment_bills_code ON {payment_bills} (dossier_code)")
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {payment_attempts} (
            attempt_id TEXT PRIMARY KEY,
            dossier_id TEXT NOT NULL,
            status TEXT NOT NULL,
            expires_epoch DOUBLE PRECISION NOT NULL
        )
        """
    )
    tx.execute(
        "CREATE INDEX IF NOT EXISTS payment_attempts_clock "
        "ON {payment_attempts} (status, expires_epoch)"
    )
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {payment_transactions} (
            transaction_id TEXT PRIMARY KEY,
            dossier_id TEXT NOT NULL,
            payment_code TEXT,
            method TEXT NOT NULL,
            amount_vnd BIGINT NOT NULL,
            paid_at TEXT NOT NULL,
            day TEXT NOT NULL,
            receipt_number TEXT NOT NULL UNIQUE,
            attempt_id TEXT
        )
        """
    )
    tx.execute(
        "CREATE INDEX IF NOT EXISTS payment_transactions_day "
        "ON {payment_transactions} (day, method)"
    )
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {payment_refunds} (
            refund_id TEXT PRIMARY KEY,
            dossier_id TEXT NOT NULL,
            transaction_id TEXT NOT NULL,
            method TEXT NOT NULL,
            amount_vnd BIGINT NOT NULL,
            status TEXT NOT NULL,
            refund_transaction_id TEXT,
            day TEXT
        )
        """
    )
    tx.execute(
        "CREATE INDEX IF NOT EXISTS payment_refunds_status ON {payment_refunds} (status, method)"
    )
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {payment_reconciliations} (
            day TEXT NOT NULL,
            run_at TEXT NOT NULL,
            report TEXT NOT NULL,
            PRIMARY KEY (day, run_at)
        )
        """
    )
    create_view_table(tx)


class ReferenceTaken(Conflict):
    """The payment's reference is already recorded for another dossier."""


def _upsert(tx: Tx, table: str, key: str, row: dict[str, Any]) -> None:
    """Insert or update the row; a row with the same key *of another dossier* is an error."""
    columns = list(row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    tx.execute(
        f"INSERT INTO {{{table}}} ({', '.join(columns)}) VALUES "
        f"({', '.join('?' * len(columns))}) ON CONFLICT ({key}) DO UPDATE SET {updates} "
        f"WHERE {{{table}}}.dossier_id = excluded.dossier_id RETURNING {key}",
        list(row.values()),
    )
    if tx.fetchone() is None:
        raise ReferenceTaken(f"{row[key]} is already recorded for another dossier")


def _day(moment: datetime | None) -> str | None:
    return None if moment is None else local_date(moment).isoformat()


def bill_rows(bill: Bill) -> Write:
    """Rows of the bill, its attempts, payments and refunds, as they now stand, and the
    bill's view (``bill_view.py``)."""
    dossier_id = str(bill.id)

    def write(tx: Tx) -> None:
        _upsert(
            tx,
            "payment_bills",
            "dossier_id",
            {
                "dossier_id": dossier_id,
                "dossier_code": bill.dossier_code,
                "payment_code": bill.payment_code,
                "procedure_id": bill.procedure_id,
                "applicant_account": bill.payer.get("account"),
                "agencies": ",".join(bill.agencies),
                "amount_vnd": bill.amount_vnd,
                "paid_vnd": bill.paid_vnd,
                "refunded_vnd": bill.refunded_vnd,
                "status": bill.status,
                "updated_at": bill.modified_on.isoformat(),
            },
        )
        for a in bill.attempts.values():
            row = {
                "attempt_id": a["attempt_id"],
                "dossier_id": dossier_id,
                "status": a["status"],
                "expires_epoch": a["expires_at"].timestamp(),
            }
            _upsert(tx, "payment_attempts", "attempt_id", row)
        for p in bill.payments.values():
            row = {
                "transaction_id": p["transaction_id"],
                "dossier_id": dossier_id,
                "payment_code": bill.payment_code,
                "method": p["method"],
                "amount_vnd": p["amount_vnd"],
                "paid_at": p["paid_at"].isoformat(),
                "day": _day(p["paid_at"]),
                "receipt_number": p["receipt_number"],
                "attempt_id": p["attempt_id"],
            }
            _upsert(tx, "payment_transactions", "transaction_id", row)
        for r in bill.refunds.values():
            row = {
                "refund_id": r["refund_id"],
                "dossier_id": dossier_id,
                "transaction_id": r["transaction_id"],
                "method": bill.payments[r["transaction_id"]]["method"],
                "amount_vnd": r["amount_vnd"],
                "status": r["status"],
                "refund_transaction_id": r["refund_transaction_id"],
                "day": _day(r["outcome_at"]),
            }
            _upsert(tx, "payment_refunds", "refund_id", row)
        view_row(bill)(tx)

    return write
