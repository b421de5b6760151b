"""What applicants, officers and admins read: the bill, its public part, receipts.

The bill is answered from its read model (``bill_view``), never by replaying the
aggregate, because screens poll it while a payment is under way; who may see it is
decided from the same row. The receipt (biên lai) of a payment is built from the bill.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from motcua.core.errors import NotFound
from motcua.web.auth import Caller
from services.payment.base import PaymentBase
from services.payment.bill_view import PUBLIC_FIELDS, bill_view, find_view, view_row
from services.payment.domain import Bill


class QueriesMixin(PaymentBase):
    """The bill's views and receipts, with the rule of who may see them."""

    def public_bill(self, ref: str) -> dict[str, Any]:
        """What anyone holding the payment code may see: no personal data."""
        view = self._view(ref)["view"]
        return {k: view[k] for k in PUBLIC_FIELDS}

    def bill_for(self, caller: Caller, ref: str) -> dict[str, Any]:
        """The bill's view from its read model, for the payer, its agencies, an admin."""
        found = self._view(ref)
        view: dict[str, Any] = found["view"]
        self._check_may_see_as(caller, found["applicant_account"], view["agencies"])
        return view

    def _view(self, ref: str) -> dict[str, Any]:
        """The bill's id, payer's account and view by payment code, dossier code or id.

        A bill saved before the views existed gets its view from the aggregate, kept."""
        found = find_view(self.store, ref)
        if found is None:
            raise NotFound(f"no bill with payment code or dossier {ref}")
        if found["view"] is None:
            bill = self._get(UUID(found["dossier_id"]))
            self.store.write(view_row(bill))
            found["view"] = bill_view(bill)
        return found

    def receipt(self, caller: Caller, number: str) -> dict[str, Any]:
        """The electronic receipt (biên lai) of one payment."""
        row = self.store.read_one(
            "SELECT dossier_id, transaction_id FROM {payment_transactions} "
            "WHERE receipt_number = ?",
            (number,),
        )
        if row is None:
            raise NotFound(f"no receipt {number}")
        bill = self._get(UUID(row["dossier_id"]))
        self._check_may_see(caller, bill)
        payment = bill.payments[row["transaction_id"]]
        return {
            "receipt_number": payment["receipt_number"],
            "issued_at": payment["paid_at"],
            "payer": {k: bill.payer[k] for k in ("full_name", "id_number")},
            "dossier_code": bill.dossier_code,
            "payment_code": bill.payment_code,
            "procedure_id": bill.procedure_id,
            "procedure_name": bill.procedure_name,
            "collecting_agency": bill.agencies[0],
            "items": [i for i in bill.items if i["amount_vnd"] > 0],
            "amount_vnd": payment["amount_vnd"],
            "method": payment["method"],
            "transaction_id": payment["transaction_id"],
            "reference": payment["reference"],
        }

    @classmethod
    def _check_may_see(cls, caller: Caller, bill: Bill) -> None:
        cls._check_may_see_as(caller, bill.payer.get("account"), bill.agencies)

    @staticmethod
    def _check_may_see_as(caller: Caller, payer_account: str | None, agencies: list[str]) -> None:
        """The payer, an officer of one of the dossier's agencies, an admin; else 404."""
        allowed = (
            caller.role == "admin"
            or (caller.role == "citizen" and payer_account == caller.sub)
            or (caller.role == "officer" and caller.agency in agencies)
        )
        if not allowed:
            raise NotFound("no such bill")
