"""PaymentApplication: bills, online attempts through the gateway, offline payments,
refunds and reconciliation.

It reacts to ``DossierReceived`` (assess the fees), ``DossierRejected`` and
``DossierWithdrawn`` (close the bill, pay back what may be paid back) and
``ResultIssued`` (no refund after the result) from ``dossier-events``; to applicants
and officers over HTTP; to the gateway's signed callbacks; and to its own clock
(expire attempts, send refunds). Every save also writes the bill's lookup rows and,
for consumed events, the consumer's positions: one transaction each time.

This module assembles the one eventsourcing application from its features, each a
mixin in its own module over ``base.PaymentBase``: ``billing`` (the consumed events),
``checkout`` (online payment, callbacks, expiry), ``offline``, ``refunds``,
``reconciliation`` and ``queries`` (the bill's views and receipts).
"""

from __future__ import annotations

from motcua.core.clock import Clock, system_clock
from motcua.runtime.store import Store
from services.catalogue.procedures import Catalogue
from services.payment.billing import BillingMixin
from services.payment.checkout import CheckoutMixin
from services.payment.domain import Counter
from services.payment.gateway import Gateway
from services.payment.offline import OfflinePaymentsMixin
from services.payment.queries import QueriesMixin
from services.payment.readmodel import create_tables
from services.payment.reconciliation import ReconciliationMixin
from services.payment.refunds import RefundsMixin
from services.payment.settings import PaymentSettings


class PaymentApplication(
    BillingMixin,
    CheckoutMixin,
    OfflinePaymentsMixin,
    RefundsMixin,
    ReconciliationMixin,
    QueriesMixin,
):
    """Commands and queries on bills; the clock that expires attempts and sends refunds."""

    name = "payment"
    snapshotting_intervals = {Counter: 100}  # noqa: RUF012 (eventsourcing's API)

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        catalogue: Catalogue,
        gateway: Gateway,
        settings: PaymentSettings | None = None,
        public_url: str = "http://127.0.0.1:8003",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(env)
        self.catalogue, self.gateway = catalogue, gateway
        self.settings = settings or PaymentSettings()
        self.public_url = public_url.rstrip("/")
        self.clock: Clock = clock or system_clock
        self.store = Store(self.recorder)  # type: ignore[arg-type]
        self.store.write(create_tables)
