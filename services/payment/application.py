"""PaymentApplication: bills, online attempts through the gateway, offline payments,
refunds and reconciliation.

It reacts to ``DossierReceived`` (assess the fees), ``DossierRejected`` and
``DossierWithdrawn`` (close the bill, pay back what may be paid back) and
``ResultIssued`` (no refund after the result) from ``dossier-events``; to applicants
and officers over HTTP; to the gateway's signed callbacks; and to its own clock
(expire attempts, send refunds). Every save also writes the bill's lookup rows and,
for consumed events, the consumer's positions: one transaction each time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from contracts.intake import DossierReceived, DossierWithdrawn
from contracts.workflow import DossierRejected, ResultIssued
from motcua.core.calendar import local_date
from motcua.core.clock import Clock, system_clock
from motcua.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized, Unavailable
from motcua.core.retry import retry_on_conflict
from motcua.runtime.handlers import Handlers
from motcua.runtime.store import Store, Tx, Write
from motcua.runtime.unit_of_work import UnitOfWork
from motcua.web.auth import Caller
from services.catalogue.procedures import Catalogue
from services.payment import fees
from services.payment.bill_view import PUBLIC_FIELDS, bill_view, find_view, view_row
from services.payment.domain import Bill, BillConflict, Counter, payment_code, receipt_number
from services.payment.gateway import (
    BadSignature,
    Callback,
    Gateway,
    GatewayError,
    Order,
    RefundRequest,
)
from services.payment.readmodel import bill_rows, create_tables
from services.payment.settings import PaymentSettings

log = structlog.get_logger(__name__)

SAVE_ATTEMPTS = 20  # checkouts racing on the same bill
OFFLINE_METHODS = ("counter", "bank_transfer", "post")


class PaymentApplication(Application[UUID]):
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

    # -- events from other services ---------------------------------------------------

    def handlers(self) -> Handlers:
        """The consumed contract events this service acts on (others are only tracked)."""
        return Handlers(
            {
                DossierReceived: self.assess,
                DossierRejected: lambda event, uow: self.close_bill(event, "refused", uow),
                DossierWithdrawn: lambda event, uow: self.close_bill(event, "withdrawn", uow),
                ResultIssued: self.result_issued,
            }
        )

    def assess(self, event: DossierReceived, uow: UnitOfWork) -> None:
        """The dossier's bill from its procedure's fee schedule (P-1): FeeAssessed with a
        new payment code, or FeeWaived when nothing is due."""
        if uow.get(event.dossier_id, Bill) is not None:
            return
        procedure = self.catalogue.require(event.procedure_id)
        lines = fees.assess(procedure, event.form_data)
        amount = fees.total(lines)
        counter, code = None, None
        if amount > 0:
            day = local_date(event.received_at)
            name = f"code:{day:%y%m%d}"
            counter = uow.get(Counter.create_id(name), Counter) or Counter(name)
            counter.issue()
            code = payment_code(day, counter.last)
        bill = Bill(
            dossier_id=event.dossier_id,
            dossier_code=event.code,
            procedure_id=procedure.id,
            procedure_name=procedure.name,
            level=procedure.level,
            agencies=list(procedure.agencies),
            payer={
                "account": event.applicant.account,
                "full_name": event.applicant.full_name,
                "id_number": event.applicant.id_number,
            },
            payment_code=code,
            items=[line.as_dict() for line in lines],
            amount_vnd=amount,
            waived_reason=None if amount else fees.waiver_reason(procedure, lines),
            correlation_id=str(event.event_id),
        )
        uow.save(bill, counter, writes=[bill_rows(bill)])

    def close_bill(
        self, event: DossierRejected | DossierWithdrawn, reason: str, uow: UnitOfWork
    ) -> None:
        """No more payments for a closed dossier; refundable money goes back."""
        bill = uow.get(event.dossier_id, Bill)
        if bill is None or bill.closed_reason or bill.result_issued:
            return
        cid = str(event.event_id)
        bill.close(reason=reason, correlation_id=cid)
        self._plan_refunds(bill, f"Hồ sơ bị {'từ chối' if reason == 'refused' else 'rút'}", cid)
        uow.save(bill, writes=[bill_rows(bill)])

    def result_issued(self, event: ResultIssued, uow: UnitOfWork) -> None:
        bill = uow.get(event.dossier_id, Bill)
        if bill is None or bill.result_issued:
            return
        bill.mark_result_issued(correlation_id=str(event.event_id))
        uow.save(bill, writes=[bill_rows(bill)])

    # -- online payment -----------------------------------------------------------------

    def checkout(self, ref: str, cid: str) -> dict[str, Any]:
        """The attempt to pay the bill online: the live one if any, else a new one at
        the gateway. Never two live attempts for one bill."""
        for _ in range(SAVE_ATTEMPTS):
            bill = self._bill(ref)
            now = self.clock()
            bill.check_can_pay_online()
            live = bill.pending_attempt(now)
            if live is not None:
                return self._attempt_view(bill, live)
            attempt_id = uuid4().hex
            expires_at = now + timedelta(minutes=self.settings.payment_attempt_minutes)
            order = Order(
                order_id=attempt_id,
                payment_code=bill.payment_code or "",
                amount_vnd=bill.outstanding_vnd,
                description=f"Phí, lệ phí hồ sơ {bill.dossier_code}",
                return_url=self.settings.payment_return_url,
                callback_url=self.settings.payment_callback_url,
                expires_at=expires_at,
            )
            try:
                pay_url = self.gateway.create_order(order)
            except GatewayError as error:
                log.warning("gateway unavailable", error=str(error))
                raise Unavailable("the payment gateway cannot be reached; retry shortly") from None
            bill.start_attempt(
                attempt_id=attempt_id,
                amount_vnd=order.amount_vnd,
                started_at=now,
                expires_at=expires_at,
                pay_url=pay_url,
                correlation_id=cid,
            )
            try:
                self.save(bill, writes=[bill_rows(bill)])
            except IntegrityError:
                continue  # another checkout of the same bill won: return its attempt
            return self._attempt_view(bill, bill.attempts[attempt_id])
        raise Conflict("the bill is being changed by others; retry")

    def callback(self, headers: Mapping[str, str], body: bytes, remote: str) -> str:
        """Apply one gateway callback; exactly one outcome per attempt whatever the order
        and number of callbacks. Returns what happened, for the gateway's log."""
        try:
            callback = self.gateway.verify_callback(headers, body)
        except BadSignature as error:
            log.warning("gateway callback rejected", reason=str(error), remote=remote)
            raise Unauthorized(f"callback rejected: {error}") from None
        except ValueError as error:
            raise Invalid(f"callback body is not valid: {error}") from None
        row = self.store.read_one(
            "SELECT dossier_id FROM {payment_attempts} WHERE attempt_id = ?", (callback.order_id,)
        )
        if row is None:
            log.error("callback for an unknown attempt", order_id=callback.order_id)
            raise NotFound(f"no payment attempt {callback.order_id}")
        if callback.status == "processing":
            return "noted"
        return self._apply_outcome(UUID(row["dossier_id"]), callback)

    @retry_on_conflict
    def _apply_outcome(self, dossier_id: UUID, callback: Callback) -> str:
        bill = self._get(dossier_id)
        attempt = bill.attempts[callback.order_id]
        if bill.has_outcome(callback.order_id):
            if attempt["status"] != callback.status:
                log.error(
                    "gateway contradicts an earlier outcome; kept the first",
                    order_id=callback.order_id,
                    first=attempt["status"],
                    now=callback.status,
                )
            return "duplicate"
        cid = f"gateway:{callback.event_id}"
        if callback.status == "failed":
            bill.attempt_failed(
                attempt_id=callback.order_id,
                reason=callback.reason or "declined",
                failed_at=callback.occurred_at,
                correlation_id=cid,
            )
            self.save(bill, writes=[bill_rows(bill)])
            return "failed"
        if not callback.transaction_id:
            raise Invalid("a successful callback needs the transaction_id")
        book = self._counter(f"receipt:{local_date(callback.occurred_at).year}")
        book.issue()
        bill.attempt_succeeded(
            attempt_id=callback.order_id,
            transaction_id=callback.transaction_id,
            amount_vnd=callback.amount_vnd,
            paid_at=callback.occurred_at,
            receipt_number=receipt_number(local_date(callback.occurred_at).year, book.last),
            correlation_id=cid,
        )
        self._plan_refunds(bill, "Thanh toán vượt số phải nộp (trùng hoặc sau khi hồ sơ đóng)", cid)
        self.save(bill, book, writes=[bill_rows(bill)])
        return "succeeded"

    def expire_attempts(self) -> int:
        """Mark pending attempts past their lifetime; the applicant may start another."""
        now = self.clock()
        rows = self.store.read(
            "SELECT attempt_id, dossier_id FROM {payment_attempts} "
            "WHERE status = 'pending' AND expires_epoch < ?",
            (now.timestamp(),),
        )
        expired = 0
        for row in rows:
            bill = self._get(UUID(row["dossier_id"]))
            try:
                bill.expire_attempt(
                    attempt_id=row["attempt_id"],
                    expired_at=now,
                    correlation_id=f"clock:{now.isoformat()}",
                )
                self.save(bill, writes=[bill_rows(bill)])
                expired += 1
            except (BillConflict, IntegrityError):
                continue  # an outcome or another clock got there first
        return expired

    # -- offline payments ---------------------------------------------------------------

    def record_offline(
        self,
        caller: Caller,
        ref: str,
        *,
        method: str,
        reference: str,
        amount_vnd: int,
        paid_at: datetime | None,
        cid: str,
    ) -> dict[str, Any]:
        """An officer records cash at the counter, a bank transfer or a postal payment."""
        caller.require("officer")
        if method not in OFFLINE_METHODS:
            raise Invalid(f"method must be one of {', '.join(OFFLINE_METHODS)}")
        reference = reference.strip()
        if not reference:
            raise Invalid("the payment's reference (receipt, transfer or postal number) is needed")
        transaction_id = f"{method}:{reference}"

        @retry_on_conflict
        def record() -> dict[str, Any]:
            bill = self._bill(ref)
            if caller.agency not in bill.agencies:
                raise Forbidden(f"the dossier is handled by {', '.join(bill.agencies)}")
            taken = self.store.read_one(
                "SELECT dossier_id FROM {payment_transactions} WHERE transaction_id = ?",
                (transaction_id,),
            )
            if taken is not None:
                raise Conflict(f"{method} reference {reference} is already recorded")
            bill.check_due()
            if amount_vnd != bill.outstanding_vnd:
                raise Invalid(f"the amount due is {bill.outstanding_vnd} đ, not {amount_vnd} đ")
            when = paid_at or self.clock()
            book = self._counter(f"receipt:{local_date(when).year}")
            book.issue()
            bill.record_offline(
                method=method,
                reference=reference,
                amount_vnd=amount_vnd,
                paid_at=when,
                officer=caller.sub,
                receipt_number=receipt_number(local_date(when).year, book.last),
                correlation_id=cid,
            )
            self.save(bill, book, writes=[bill_rows(bill)])
            return self.view_bill(bill)

        return record()

    # -- refunds ------------------------------------------------------------------------

    def _plan_refunds(self, bill: Bill, reason: str, cid: str) -> None:
        now = self.clock()
        for transaction_id, amount in bill.refunds_due():
            bill.request_refund(
                refund_id=uuid4().hex,
                transaction_id=transaction_id,
                amount_vnd=amount,
                reason=reason,
                requested_at=now,
                correlation_id=cid,
            )

    def send_refunds(self) -> int:
        """Ask the gateway for each requested online refund; unsure answers are retried.

        Refunds of offline payments are paid out at the counter and recorded by an
        officer (``record_refund_paid``)."""
        rows = self.store.read(
            "SELECT refund_id, dossier_id, transaction_id, amount_vnd FROM {payment_refunds} "
            "WHERE status = 'requested' AND method = 'online'"
        )
        done = 0
        for row in rows:
            bill = self._get(UUID(row["dossier_id"]))
            refund = bill.refunds[row["refund_id"]]
            request = RefundRequest(
                refund_id=refund["refund_id"],
                transaction_id=refund["transaction_id"],
                amount_vnd=refund["amount_vnd"],
                reason=refund["reason"],
            )
            try:
                outcome = self.gateway.refund(request)
            except GatewayError as error:
                log.warning(
                    "refund not sent; will retry", refund_id=request.refund_id, error=str(error)
                )
                continue
            cid = f"gateway:refund:{outcome.refund_id}"
            try:
                if outcome.status == "succeeded":
                    bill.refund_succeeded(
                        refund_id=refund["refund_id"],
                        refund_transaction_id=outcome.transaction_id,
                        refunded_at=self.clock(),
                        correlation_id=cid,
                    )
                else:
                    bill.refund_failed(
                        refund_id=refund["refund_id"],
                        reason=outcome.reason or "refused by the gateway",
                        failed_at=self.clock(),
                        correlation_id=cid,
                    )
                self.save(bill, writes=[bill_rows(bill)])
                done += 1
            except (BillConflict, IntegrityError):
                continue  # another instance recorded it; the gateway call was idempotent
        return done

    def record_refund_paid(
        self, caller: Caller, ref: str, refund_id: str, reference: str, cid: str
    ) -> dict[str, Any]:
        """An officer paid an offline refund out at the counter."""
        caller.require("officer")

        @retry_on_conflict
        def record() -> dict[str, Any]:
            bill = self._bill(ref)
            if caller.agency not in bill.agencies:
                raise Forbidden(f"the dossier is handled by {', '.join(bill.agencies)}")
            refund = bill.refunds.get(refund_id)
            if refund is None:
                raise NotFound(f"no refund {refund_id} on this bill")
            if bill.payments[refund["transaction_id"]]["method"] == "online":
                raise Conflict("online refunds go back through the gateway")
            bill.refund_succeeded(
                refund_id=refund_id,
                refund_transaction_id=reference,
                refunded_at=self.clock(),
                correlation_id=cid,
            )
            self.save(bill, writes=[bill_rows(bill)])
            return self.view_bill(bill)

        return record()

    # -- reconciliation -----------------------------------------------------------------

    def reconcile(self, day: date) -> dict[str, Any]:
        """Match the gateway's settlement file of ``day`` with what we recorded."""
        try:
            settled = self.gateway.settlement(day)
        except GatewayError as error:
            raise Unavailable(f"cannot fetch the settlement file: {error}") from None
        ours: dict[str, dict[str, Any]] = {}
        for row in self.store.read(
            "SELECT transaction_id, payment_code, amount_vnd FROM {payment_transactions} "
            "WHERE day = ? AND method = 'online'",
            (day.isoformat(),),
        ):
            ours[row["transaction_id"]] = {**row, "kind": "payment"}
        for row in self.store.read(
            "SELECT r.refund_transaction_id AS transaction_id, b.payment_code, r.amount_vnd "
            "FROM {payment_refunds} r JOIN {payment_bills} b ON b.dossier_id = r.dossier_id "
            "WHERE r.day = ? AND r.method = 'online' AND r.status = 'succeeded'",
            (day.isoformat(),),
        ):
            ours[row["transaction_id"]] = {**row, "kind": "refund"}
        lines = []
        for s in settled:
            mine = ours.pop(s.transaction_id, None)
            outcome = (
                "missing_in_records"
                if mine is None
                else "matched"
                if mine["amount_vnd"] == s.amount_vnd
                else "amount_mismatch"
            )
            lines.append(
                {
                    "transaction_id": s.transaction_id,
                    "kind": s.kind,
                    "payment_code": s.payment_code,
                    "recorded_vnd": None if mine is None else mine["amount_vnd"],
                    "gateway_vnd": s.amount_vnd,
                    "outcome": outcome,
                }
            )
        for transaction_id, mine in sorted(ours.items()):
            lines.append(
                {
                    "transaction_id": transaction_id,
                    "kind": mine["kind"],
                    "payment_code": mine["payment_code"],
                    "recorded_vnd": mine["amount_vnd"],
                    "gateway_vnd": None,
                    "outcome": "missing_at_gateway",
                }
            )
        report = reconciliation_report(day, self.clock(), lines)
        self.store.write(_save_report(report))
        return report

    # -- queries ------------------------------------------------------------------------

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

    def view_bill(self, bill: Bill) -> dict[str, Any]:
        """The whole bill, every field read from this one state of it (never a second load:
        a payment saved in between would give a paid status beside an unpaid amount)."""
        return bill_view(bill)

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

    def attempt_status(self, attempt_id: str) -> dict[str, Any]:
        row = self.store.read_one(
            "SELECT dossier_id FROM {payment_attempts} WHERE attempt_id = ?", (attempt_id,)
        )
        if row is None:
            raise NotFound(f"no payment attempt {attempt_id}")
        bill = self._get(UUID(row["dossier_id"]))
        return self._attempt_view(bill, bill.attempts[attempt_id])

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

    def reports(self, day: date) -> list[dict[str, Any]]:
        rows = self.store.read(
            "SELECT report FROM {payment_reconciliations} WHERE day = ? ORDER BY run_at DESC",
            (day.isoformat(),),
        )
        return [json.loads(r["report"]) for r in rows]

    # -- helpers ------------------------------------------------------------------------

    def _attempt_view(self, bill: Bill, attempt: dict[str, Any]) -> dict[str, Any]:
        return {
            "attempt_id": attempt["attempt_id"],
            "payment_code": bill.payment_code,
            "dossier_code": bill.dossier_code,
            "amount_vnd": attempt["amount_vnd"],
            "status": attempt["status"],
            "expires_at": attempt["expires_at"],
            "pay_url": attempt["pay_url"],
            "transaction_id": attempt["transaction_id"],
        }

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


def reconciliation_report(
    day: date, run_at: datetime, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line["outcome"]] = counts.get(line["outcome"], 0) + 1
    return {
        "day": day.isoformat(),
        "run_at": run_at.isoformat(),
        "counts": {
            k: counts.get(k, 0)
            for k in ("matched", "amount_mismatch", "missing_in_records", "missing_at_gateway")
        },
        "recorded_vnd": sum(line["recorded_vnd"] or 0 for line in lines),
        "gateway_vnd": sum(line["gateway_vnd"] or 0 for line in lines),
        "lines": lines,
    }


def _save_report(report: dict[str, Any]) -> Write:
    def write(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {payment_reconciliations} (day, run_at, report) VALUES (?, ?, ?)",
            (report["day"], report["run_at"], json.dumps(report, ensure_ascii=False)),
        )

    return write
