"""Payment's bill read model: the whole answer of ``GET /v1/payments/{ref}`` in one row.

Applicants' and officers' screens poll the bill while a payment is under way; built
from the aggregate, each answer replayed every attempt, payment and refund of the bill.
The ``payment_bill_views`` row holds the view's document instead, written with the
bill's lookup rows in the transaction of every save (``readmodel.bill_rows``). The
document is one state of the bill: "paid" never stands beside 0 paid.

A bill saved before the table existed has its lookup row but no view: its first read
builds the view from the aggregate and keeps it. The newer version wins a race.
"""

from __future__ import annotations

from typing import Any

from motcua.runtime.documents import create_document_table, decode_document, upsert_document
from motcua.runtime.store import Store, Tx, Write
from services.payment.domain import Bill

# What anyone holding the payment code may see (the pay page): no personal data.
PUBLIC_FIELDS = (
    "payment_code",
    "dossier_code",
    "procedure_name",
    "level",
    "items",
    "amount_vnd",
    "outstanding_vnd",
    "status",
    "waived_reason",
)


def create_table(tx: Tx) -> None:
    create_document_table(tx, "payment_bill_views")


def public_view(bill: Bill) -> dict[str, Any]:
    return {
        "payment_code": bill.payment_code,
        "dossier_code": bill.dossier_code,
        "procedure_name": bill.procedure_name,
        "level": bill.level,
        "items": bill.items,
        "amount_vnd": bill.amount_vnd,
        "outstanding_vnd": bill.outstanding_vnd,
        "status": bill.status,
        "waived_reason": bill.waived_reason,
    }


def bill_view(bill: Bill) -> dict[str, Any]:
    """The whole bill, every field read from this one state of it."""
    return {
        **public_view(bill),
        "dossier_id": str(bill.id),
        "procedure_id": bill.procedure_id,
        "agencies": bill.agencies,
        "paid_vnd": bill.paid_vnd,
        "refunded_vnd": bill.refunded_vnd,
        "closed_reason": bill.closed_reason,
        "attempts": list(bill.attempts.values()),
        "payments": list(bill.payments.values()),
        "refunds": list(bill.refunds.values()),
    }


def view_row(bill: Bill) -> Write:
    """The upsert of the bill's view; an older version never replaces a newer one."""
    return lambda tx: upsert_document(
        tx, "payment_bill_views", bill.id, bill.version, bill_view(bill)
    )


def find_view(store: Store, ref: str) -> dict[str, Any] | None:
    """The bill by payment code, dossier code or dossier id: its id, payer's account and
    view (``None`` for a bill saved before the views existed), in one statement."""
    row = store.read_one(
        "SELECT b.dossier_id, b.applicant_account, v.document FROM {payment_bills} b "
        "LEFT JOIN {payment_bill_views} v ON v.dossier_id = b.dossier_id "
        "WHERE b.payment_code = ? OR b.dossier_code = ? OR b.dossier_id = ?",
        (ref, ref, ref),
    )
    if row is None:
        return None
    document = row.pop("document")
    return {**row, "view": None if document is None else decode_document(document)}
