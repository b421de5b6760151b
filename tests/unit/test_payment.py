"""Payment's rules in process: fee assessment, attempts and callbacks, offline payments,
refunds. The gateway here is a stand-in that signs like the real protocol; the
integration tests use the simulator over HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.application import AggregateNotFoundError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.envelope import Envelope, FormValue
from contracts.intake import DossierReceived, DossierWithdrawn
from contracts.workflow import DossierRejected
from motcua.core.errors import Conflict, Forbidden, Invalid, Unauthorized
from motcua.core.sequence import SequenceExhausted
from motcua.runtime.mapping import contracts_of
from motcua.runtime.store import store_env
from motcua.web.auth import Caller
from services.catalogue.procedures import load_catalogue
from services.payment import fees
from services.payment.application import PaymentApplication
from services.payment.domain import (
    LIMITS,
    MAX_PAYMENT_CODES_PER_DAY,
    MAX_RECEIPTS_PER_YEAR,
    Bill,
    BillConflict,
    Counter,
    payment_code,
    receipt_number,
)
from services.payment.gateway import (
    Callback,
    Order,
    RefundOutcome,
    RefundRequest,
    SettlementRow,
    signed_headers,
    verify,
)
from services.payment.readmodel import ReferenceTaken
from services.payment.settings import PaymentSettings
from services.payment.to_contract import PaymentPublisher
from tests.support.ledger import deliver as consume_batch
from tests.support.samples import LAND, LAND_FORM, received

SECRET = "test-secret"
CATALOGUE = load_catalogue()
CRIMINAL_RECORD = "2.000488"  # level 4, fixed fee with exemptions + per-unit extra copies
BIRTH = "1.001193"  # level 4, per copy, exemptions
BUILDING = "1.009994"  # level 3: no online payment
ADMIN = Caller(sub="admin", role="admin")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class StandInGateway:
    """Signs and verifies like the protocol; refunds succeed; settlement set by the test."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.refunds: list[RefundRequest] = []
        self.settled: list[SettlementRow] = []

    def create_order(self, order: Order) -> str:
        self.orders[order.order_id] = order
        return f"https://gateway.test/pay/{order.order_id}"

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> Callback:
        verify(SECRET, headers, body, tolerance=300)
        return Callback.model_validate_json(body)

    def refund(self, request: RefundRequest) -> RefundOutcome:
        self.refunds.append(request)
        return RefundOutcome(refund_id=request.refund_id, status="succeeded", transaction_id="RF1")

    def settlement(self, day: date) -> list[SettlementRow]:
        return self.settled


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gateway() -> StandInGateway:
    return StandInGateway()


def make_app(folder: Path, gateway: StandInGateway, clock: Clock) -> PaymentApplication:
    return PaymentApplication(
        store_env(None, str(folder), "payment"),
        catalogue=CATALOGUE,
        gateway=gateway,
        settings=PaymentSettings(payment_attempt_minutes=90),
        clock=clock,
    )


@pytest.fixture
def app(tmp_path: Path, gateway: StandInGateway, clock: Clock) -> Iterator[PaymentApplication]:
    application = make_app(tmp_path, gateway, clock)
    yield application
    application.close()


def consume(app: PaymentApplication, *events: Envelope) -> None:
    """Events from the topic, applied as payment's consumer applies them."""
    consume_batch(app, app.store, app.handlers(), *events, name="payment")


def withdrawal_of(event: DossierReceived) -> DossierWithdrawn:
    """The applicant's withdrawal of the dossier, as workflow publishes it."""
    return DossierWithdrawn(
        event_id=uuid.uuid4(),
        dossier_id=event.dossier_id,
        occurred_at=datetime.now(UTC),
        producer="workflow",
        correlation_id="t",
        reason="đổi ý",
        withdrawn_by="citizen-1",
    )


def bill_of(app: PaymentApplication, event: DossierReceived) -> Bill:
    bill: Bill = app.repository.get(event.dossier_id)
    return bill


def callback(order_id: str, status: str, *, event_id: str | None = None, **extra: Any) -> Callback:
    fields: dict[str, Any] = {
        "event_id": event_id or f"{order_id}:{status}",
        "order_id": order_id,
        "status": status,
        "amount_vnd": extra.pop("amount_vnd", 0),
        "occurred_at": extra.pop("occurred_at", datetime(2026, 3, 2, 2, 5, tzinfo=UTC)),
        **extra,
    }
    if status == "succeeded":
        fields.setdefault("transaction_id", f"GW-{order_id[:8]}")
    if status == "failed":
        fields.setdefault("reason", "declined")
    return Callback.model_validate(fields)


def deliver(app: PaymentApplication, cb: Callback, secret: str = SECRET) -> str:
    body = cb.model_dump_json().encode()
    return app.callback(signed_headers(secret, body), body, "127.0.0.1")


def contract_types(app: PaymentApplication) -> list[str]:
    stored = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 10_000)]
    contracts = contracts_of(stored, PaymentPublisher(app), app.repository)
    return [c.type for c in contracts if c is not None]  # type: ignore[attr-defined]


# -- fee assessment ------------------------------------------------------------------------


def test_land_fees_are_per_unit_and_clamped() -> None:
    procedure = CATALOGUE.get(LAND)
    assert procedure is not None
    lines = {line.id: line for line in fees.assess(procedure, LAND_FORM)}
    assert lines["le_phi_truoc_ba"].amount_vnd == 1500 * 5000
    assert lines["phi_tham_dinh_ho_so"].amount_vnd == 120_400  # 120.4 m2 x 1,000 rounded
    assert lines["le_phi_dang_ky_bien_dong"].amount_vnd == 30_000
    small = {
        line.id: line for line in fees.assess(procedure, {**LAND_FORM, "dien_tich_thua_dat_m2": 3})
    }
    assert small["phi_tham_dinh_ho_so"].amount_vnd == 100_000  # the minimum
    huge = {
        line.id: line
        for line in fees.assess(procedure, {**LAND_FORM, "gia_tri_chuyen_nhuong_trieu_vnd": 10**6})
    }
    assert huge["le_phi_truoc_ba"].amount_vnd == 500_000_000  # the maximum


def test_an_exempt_group_pays_nothing_for_the_items_that_exempt_it() -> None:
    procedure = CATALOGUE.get(CRIMINAL_RECORD)
    assert procedure is not None
    form: dict[str, FormValue] = {"so_phieu_cap_them": 2, "doi_tuong_mien_phi": "nguoi_cao_tuoi"}
    lines = {line.id: line for line in fees.assess(procedure, form)}
    assert lines["phi_cung_cap_thong_tin_lltp"].amount_vnd == 0
    assert lines["phi_cung_cap_thong_tin_lltp"].exempt
    assert lines["phi_cap_them_phieu"].amount_vnd == 10_000  # not exempted by this item


def test_amounts_are_integers_even_for_fractional_units() -> None:
    procedure = CATALOGUE.get(LAND)
    assert procedure is not None
    for line in fees.assess(procedure, {**LAND_FORM, "dien_tich_thua_dat_m2": "150.55"}):
        assert isinstance(line.amount_vnd, int)


def test_payment_codes_carry_check_digits() -> None:
    from services.payment.domain import payment_code

    code = payment_code(date(2026, 3, 2), 17)
    assert code.startswith("260302000017")
    assert len(code) == 14
    assert fees.valid_payment_code(code)
    assert not fees.valid_payment_code(code[:-3] + str((int(code[-3]) + 1) % 10) + code[-2:])


def test_the_last_payment_code_of_a_day_keeps_its_width_and_the_next_is_refused() -> None:
    counter = Counter("code:260302")
    counter.last = MAX_PAYMENT_CODES_PER_DAY - 1
    counter.issue()

    with pytest.raises(SequenceExhausted, match="all 999999 payment codes of day 260302"):
        counter.issue()

    assert counter.last == MAX_PAYMENT_CODES_PER_DAY
    assert len(payment_code(date(2026, 3, 2), counter.last)) == 14


def test_receipt_numbers_stop_at_the_seven_digits_of_a_year() -> None:
    book = Counter("receipt:2026")
    book.last = MAX_RECEIPTS_PER_YEAR

    with pytest.raises(SequenceExhausted, match="receipt numbers of year 2026"):
        book.issue()

    assert receipt_number(2026, book.last) == "BL26-9999999"


def test_an_assessment_past_the_days_last_code_is_refused_and_records_nothing(
    app: PaymentApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(LIMITS, "code", 2)
    first, second, third = (received(LAND, LAND_FORM) for _ in range(3))
    consume(app, first)
    consume(app, second)

    with pytest.raises(SequenceExhausted):
        consume(app, third)

    assert bill_of(app, second).payment_code.startswith("260302000002")  # type: ignore[union-attr]
    with pytest.raises(AggregateNotFoundError):
        bill_of(app, third)
    assert contract_types(app) == ["FeeAssessed", "FeeAssessed"]


def test_received_dossier_gets_fee_assessed_with_a_new_code(app: PaymentApplication) -> None:
    first, second = received(LAND, LAND_FORM), received(LAND, LAND_FORM)
    consume(app, first)
    consume(app, second)
    consume(app, first)  # a redelivery changes nothing
    a, b = bill_of(app, first), bill_of(app, second)
    assert a.payment_code
    assert b.payment_code
    assert a.payment_code != b.payment_code
    assert a.amount_vnd == 7_500_000 + 120_400 + 30_000
    assert contract_types(app) == ["FeeAssessed", "FeeAssessed"]


def test_exempt_applicant_gets_fee_waived(app: PaymentApplication) -> None:
    event = received(BIRTH, {"so_ban_sao": 2, "doi_tuong_mien_phi": "ho_ngheo"})
    consume(app, event)
    bill = bill_of(app, event)
    assert bill.status == "waived"
    assert bill.payment_code is None
    assert contract_types(app) == ["FeeWaived"]
    with pytest.raises(BillConflict):
        app.checkout(str(event.dossier_id), "test")


# -- online attempts ---------------------------------------------------------------------


def assessed(app: PaymentApplication, procedure_id: str = CRIMINAL_RECORD) -> DossierReceived:
    event = received(procedure_id, {"so_phieu_cap_them": 0})
    consume(app, event)
    return event


def test_checkout_twice_returns_the_same_live_attempt(
    app: PaymentApplication, gateway: StandInGateway
) -> None:
    event = assessed(app)
    code = bill_of(app, event).payment_code
    assert code
    first = app.checkout(code, "c1")
    again = app.checkout(code, "c2")
    assert first["attempt_id"] == again["attempt_id"]
    assert len(gateway.orders) == 1
    assert gateway.orders[first["attempt_id"]].amount_vnd == 200_000


def test_level_3_services_are_not_paid_online(app: PaymentApplication) -> None:
    event = received(BUILDING, {})
    consume(app, event)
    with pytest.raises(Conflict, match="level-4"):
        app.checkout(str(event.dossier_id), "test")


def test_forged_and_stale_callbacks_are_rejected(app: PaymentApplication) -> None:
    event = assessed(app)
    attempt = app.checkout(str(event.dossier_id), "test")
    cb = callback(attempt["attempt_id"], "succeeded", amount_vnd=200_000)
    body = cb.model_dump_json().encode()
    with pytest.raises(Unauthorized, match="does not match"):
        app.callback(signed_headers("not-the-secret", body), body, "10.0.0.9")
    old = datetime.now(UTC).timestamp() - 3600
    with pytest.raises(Unauthorized, match="stale"):
        app.callback(signed_headers(SECRET, body, now=old), body, "10.0.0.9")
    assert bill_of(app, event).paid_vnd == 0


SENDS = st.lists(st.integers(min_value=1, max_value=3), min_size=2, max_size=2)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    outcome=st.sampled_from(["succeeded", "failed"]),
    copies=SENDS,
    expire_at=st.integers(min_value=-1, max_value=6),
    data=st.data(),
)
def test_any_interleaving_of_callbacks_gives_exactly_one_outcome(
    tmp_path_factory: pytest.TempPathFactory,
    outcome: str,
    copies: list[int],
    expire_at: int,
    data: st.DataObject,
) -> None:
    clock, gateway = Clock(), StandInGateway()
    app = make_app(tmp_path_factory.mktemp("pay"), gateway, clock)
    try:
        event = assessed(app)
        attempt = app.checkout(str(event.dossier_id), "test")["attempt_id"]
        sends = [callback(attempt, "processing")] * copies[0] + [
            callback(attempt, outcome, amount_vnd=200_000)
        ] * copies[1]
        order = data.draw(st.permutations(sends))
        for i, cb in enumerate(order):
            if i == expire_at:  # the clock may expire the attempt at any point
                clock.now += timedelta(minutes=91)
                app.expire_attempts()
            deliver(app, cb)
        types = contract_types(app)
        finals = [t for t in types if t in ("PaymentSucceeded", "PaymentFailed")]
        assert finals == ["PaymentSucceeded" if outcome == "succeeded" else "PaymentFailed"]
        bill = bill_of(app, event)
        assert bill.attempts[attempt]["status"] == outcome
        assert bill.paid_vnd == (200_000 if outcome == "succeeded" else 0)
        assert types.count("PaymentExpired") <= 1
    finally:
        app.close()


def test_concurrent_duplicate_callbacks_record_one_payment(app: PaymentApplication) -> None:
    event = assessed(app)
    attempt = app.checkout(str(event.dossier_id), "test")["attempt_id"]
    cb = callback(attempt, "succeeded", amount_vnd=200_000)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: deliver(app, cb), range(16)))
    assert outcomes.count("succeeded") == 1
    assert outcomes.count("duplicate") == 15
    assert contract_types(app).count("PaymentSucceeded") == 1


def test_late_success_after_expiry_is_recorded_and_a_second_payment_refunded(
    app: PaymentApplication, gateway: StandInGateway, clock: Clock
) -> None:
    event = assessed(app)
    first = app.checkout(str(event.dossier_id), "test")["attempt_id"]
    clock.now += timedelta(minutes=91)
    assert app.expire_attempts() == 1
    second = app.checkout(str(event.dossier_id), "test")["attempt_id"]
    assert second != first
    deliver(app, callback(second, "succeeded", amount_vnd=200_000))
    deliver(app, callback(first, "succeeded", amount_vnd=200_000, transaction_id="GW-LATE"))
    bill = bill_of(app, event)
    assert bill.paid_vnd == 400_000
    assert bill.payments["GW-LATE"]["after_expiry"] is True
    [refund] = bill.refunds.values()
    assert (refund["transaction_id"], refund["amount_vnd"]) == ("GW-LATE", 200_000)
    assert app.send_refunds() == 1
    assert [r.amount_vnd for r in gateway.refunds] == [200_000]
    assert bill_of(app, event).refunded_vnd == 200_000
    assert contract_types(app) == [
        "FeeAssessed",
        "PaymentExpired",
        "PaymentSucceeded",
        "PaymentSucceeded",
        "RefundRequested",
        "RefundSucceeded",
    ]


# -- offline payments and refunds -----------------------------------------------------------


def officer_of(event: DossierReceived) -> Caller:
    return Caller(sub="officer-1", role="officer", agency=event.agency_code)


def offline(
    app: PaymentApplication,
    officer: Caller,
    ref: str,
    method: str,
    reference: str,
    amount: int = 200_000,
) -> dict[str, Any]:
    return app.record_offline(
        officer, ref, method=method, reference=reference, amount_vnd=amount, paid_at=None, cid="t"
    )


def test_offline_payment_with_a_reference_used_before_is_refused(app: PaymentApplication) -> None:
    one, two = assessed(app), assessed(app)
    officer = officer_of(one)
    offline(app, officer, str(one.dossier_id), "bank_transfer", "FT26061")
    with pytest.raises(Conflict, match="already recorded"):
        offline(app, officer, str(two.dossier_id), "bank_transfer", "FT26061")
    assert bill_of(app, two).paid_vnd == 0


def test_offline_payment_rules(app: PaymentApplication) -> None:
    event = assessed(app)
    ref = str(event.dossier_id)
    with pytest.raises(Forbidden):
        app.record_offline(
            Caller(sub="o", role="officer", agency="000.00.00.X99"),
            ref,
            method="counter",
            reference="1",
            amount_vnd=200_000,
            paid_at=None,
            cid="t",
        )
    with pytest.raises(Invalid, match="amount due is 200000"):
        offline(app, officer_of(event), ref, "counter", "1", amount=150_000)
    view = offline(app, officer_of(event), ref, "counter", "1")
    assert view["status"] == "paid"
    with pytest.raises(Conflict, match="already paid"):
        offline(app, officer_of(event), ref, "counter", "2")


def test_a_bill_view_describes_the_one_state_it_was_given(app: PaymentApplication) -> None:
    """A payment saved after the bill was loaded must not leak into that bill's view: every
    field of one answer comes from one state (a torn view said "paid" beside 0 paid)."""
    event = assessed(app)
    loaded_before_payment = bill_of(app, event)
    offline(app, officer_of(event), str(event.dossier_id), "counter", "1")

    view = app.view_bill(loaded_before_payment)

    assert (view["status"], view["paid_vnd"]) == ("due", 0)
    assert view["outstanding_vnd"] == view["amount_vnd"] == 200_000
    assert app.bill_for(ADMIN, str(event.dossier_id))["status"] == "paid"


def test_reference_taken_guard_holds_even_without_the_pre_check(app: PaymentApplication) -> None:
    """The primary key refuses a reference of another dossier even in a race."""
    one, two = assessed(app), assessed(app)
    officer = officer_of(one)
    offline(app, officer, str(one.dossier_id), "post", "P1")
    bill = bill_of(app, two)
    bill.record_offline(
        method="post",
        reference="P1",
        amount_vnd=200_000,
        paid_at=datetime.now(UTC),
        officer="x",
        receipt_number="BL26-9999999",
        correlation_id="t",
    )
    from services.payment.readmodel import bill_rows

    with pytest.raises(ReferenceTaken):
        app.save(bill, writes=[bill_rows(bill)])


def pay_online(app: PaymentApplication, event: DossierReceived, amount: int) -> str:
    attempt = app.checkout(str(event.dossier_id), "test")["attempt_id"]
    deliver(app, callback(attempt, "succeeded", amount_vnd=amount))
    return str(attempt)


def test_withdrawal_refunds_only_refundable_items(
    app: PaymentApplication, gateway: StandInGateway
) -> None:
    event = received(LAND, LAND_FORM)
    consume(app, event)
    total = bill_of(app, event).amount_vnd
    pay_online(app, event, total)
    withdrawn = withdrawal_of(event)
    consume(app, withdrawn)
    consume(app, withdrawn)  # twice: still one refund
    bill = bill_of(app, event)
    [refund] = bill.refunds.values()
    assert refund["amount_vnd"] == total - 120_400  # the appraisal fee is kept
    app.send_refunds()
    assert bill_of(app, event).status == "paid"  # what is kept is still paid
    assert sum(r.amount_vnd for r in gateway.refunds) == total - 120_400


def test_refusal_of_an_unpaid_dossier_closes_the_bill(app: PaymentApplication) -> None:
    event = assessed(app)
    rejected = DossierRejected(
        event_id=uuid.uuid4(),
        dossier_id=event.dossier_id,
        occurred_at=datetime.now(UTC),
        producer="workflow",
        correlation_id="t",
        agency_code=event.agency_code,
        officer="o",
        reason="không đủ điều kiện",
    )
    consume(app, rejected)
    bill = bill_of(app, event)
    assert bill.status == "closed"
    assert not bill.refunds
    with pytest.raises(Conflict, match="closed"):
        app.checkout(str(event.dossier_id), "test")


def test_refunds_never_exceed_what_was_paid(app: PaymentApplication) -> None:
    event = assessed(app)
    pay_online(app, event, 200_000)
    bill = bill_of(app, event)
    [transaction] = bill.payments
    with pytest.raises(BillConflict, match="exceeds"):
        bill.request_refund(
            refund_id="r1",
            transaction_id=transaction,
            amount_vnd=200_001,
            reason="x",
            requested_at=datetime.now(UTC),
            correlation_id="t",
        )
    bill.request_refund(
        refund_id="r1",
        transaction_id=transaction,
        amount_vnd=150_000,
        reason="x",
        requested_at=datetime.now(UTC),
        correlation_id="t",
    )
    with pytest.raises(BillConflict, match="exceeds"):
        bill.request_refund(
            refund_id="r2",
            transaction_id=transaction,
            amount_vnd=50_001,
            reason="x",
            requested_at=datetime.now(UTC),
            correlation_id="t",
        )


# -- receipts and reconciliation ------------------------------------------------------------


def test_each_success_has_a_receipt_with_a_gap_free_number(app: PaymentApplication) -> None:
    one, two = assessed(app), assessed(app)
    pay_online(app, one, 200_000)
    offline(app, officer_of(two), str(two.dossier_id), "counter", "Q1")
    numbers = [p["receipt_number"] for e in (one, two) for p in bill_of(app, e).payments.values()]
    assert numbers == ["BL26-0000001", "BL26-0000002"]
    receipt = app.receipt(Caller(sub="citizen-1", role="citizen"), numbers[0])
    assert receipt["amount_vnd"] == 200_000
    assert receipt["payer"]["full_name"] == "NGUYỄN VĂN A"
    assert receipt["dossier_code"] == one.code
    with pytest.raises(Exception, match="no such bill"):
        app.receipt(Caller(sub="someone-else", role="citizen"), numbers[0])


def test_reconciliation_reports_matches_and_each_kind_of_discrepancy(
    app: PaymentApplication, gateway: StandInGateway
) -> None:
    events = [assessed(app) for _ in range(3)]
    for event in events:
        pay_online(app, event, 200_000)
    ids = [next(iter(bill_of(app, e).payments)) for e in events]
    at = datetime(2026, 3, 2, 2, 5, tzinfo=UTC)
    row: dict[str, Any] = {
        "order_id": "o",
        "payment_code": "c",
        "kind": "payment",
        "occurred_at": at,
    }
    gateway.settled = [
        SettlementRow(transaction_id=ids[0], amount_vnd=200_000, **row),
        SettlementRow(transaction_id=ids[1], amount_vnd=190_000, **row),
        SettlementRow(transaction_id="GW-UNKNOWN", amount_vnd=50_000, **row),
    ]
    report = app.reconcile(date(2026, 3, 2))
    assert report["counts"] == {
        "matched": 1,
        "amount_mismatch": 1,
        "missing_in_records": 1,
        "missing_at_gateway": 1,
    }
    assert {
        line["transaction_id"]
        for line in report["lines"]
        if line["outcome"] == "missing_at_gateway"
    } == {ids[2]}
    assert app.reports(date(2026, 3, 2))[0] == json.loads(json.dumps(report))
