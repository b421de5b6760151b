"""What every feature of the payment application shares: its dependencies and the
loads of a bill or a counter.

``PaymentApplication`` (``application.py``) is one eventsourcing application made of
one mixin per feature (``billing``, ``checkout``, ``offline``, ``refunds``,
``reconciliation``, ``queries``); each of them subclasses ``PaymentBase`` so that it
can use the store, the clock, the gateway and these loads, which the application sets
up in its constructor.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from motcua.core.clock import Clock
from motcua.core.errors import NotFound
from motcua.runtime.store import Store
from services.catalogue.procedures import Catalogue
from services.payment.bill_view import bill_view
from services.payment.domain import Bill, Counter
from services.payment.gateway import Gateway
from services.payment.settings import PaymentSettings


class PaymentBase(Application[UUID]):
    """The dependencies of the payment features and how they load what they change."""

    catalogue: Catalogue
    gateway: Gateway
    settings: PaymentSettings
    public_url: str
    clock: Clock
    store: Store

    def view_bill(self, bill: Bill) -> dict[str, Any]:
        """The whole bill, every field read from this one state of it (never a second load:
        a payment saved in between would give a paid status beside an unpaid amount)."""
        return bill_view(bill)

    def _counter(self, name: str) -> Counter:
        try:
            counter: Counter = self.repository.get(Counter.create_id(name))
        except AggregateNotFoundError:
            counter = Counter(name)
        return counter

    def _find(self, dossier_id: UUID) -> Bill | None:
        try:
            bill: Bill = self.repository.get(dossier_id)
        except AggregateNotFoundError:
            return None
        return bill

    def _get(self, dossier_id: UUID) -> Bill:
        bill = self._find(dossier_id)
        if bill is None:
            raise NotFound("no bill for this dossier")
        return bill

    def _bill(self, ref: str) -> Bill:
        """The bill by payment code, dossier code or dossier id."""
        row = self.store.read_one(
            "SELECT dossier_id FROM {payment_bills} "
            "WHERE payment_code = ? OR dossier_code = ? OR dossier_id = ?",
            (ref, ref, ref),
        )
        if row is None:
            raise NotFound(f"no bill with payment code or dossier {ref}")
        return self._get(UUID(row["dossier_id"]))
