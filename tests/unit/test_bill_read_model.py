"""Payment's bill is read from its read model, and says what the bill aggregate says.

``GET /v1/payments/{ref}`` answers from the bill's ``payment_bill_views`` row, written
in the transaction of each save. After every step of lifecycles that together record
every kind of event a bill has, the answer over HTTP is compared with the view of the
bill replayed from its events, as the view was built before: an event type whose save
forgot the row would show as a difference. A store written before the read model
existed (events and lookup rows, no views) answers the same, and gets its view.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contracts.intake import DossierReceived
from contracts.workflow import ResultIssued
from motcua.core.errors import NotFound
from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from motcua.web.auth import Caller, issue_token
from motcua.web.http import install_common
from services.payment import pages
from services.payment.api import pages_router, router
from services.payment.bill_view import PUBLIC_FIELDS
from services.payment.domain import Bill
from services.payment.gateway import RefundOutcome, RefundRequest
from services.payment.schemas import BillView
from tests.support.samples import received
from tests.unit.test_payment import (
    CRIMINAL_RECORD,
    Clock,
    StandInGateway,
    callback,
    consume,
    deliver,
    make_app,
    officer_of,
    offline,
    withdrawal_of,
)

ADMIN = {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, sub='a', role='admin')}"}
EVERY_EVENT = {
    name
    for name, kind in vars(Bill).items()
    if isinstance(kind, type) and issubclass(kind, Bill.Event)
} - {"Event", "Created"}


class RefusingGateway(StandInGateway):
    """Refuses refunds while ``refusing``."""

    refusing = False

    def refund(self, request: RefundRequest) -> RefundOutcome:
        if self.refusing:
            return RefundOutcome(refund_id=request.refund_id, status="failed", reason="closed")
        return super().refund(request)


class Lifecycle:
    """Payment driven as its consumer, the gateway and officers drive it; each step is
    checked against the bill replayed."""

    def __init__(self, tmp_path: Path) -> None:
        self.gateway, self.clock = RefusingGateway(), Clock()
        self.payment = make_app(tmp_path, self.gateway, self.clock)
        http = FastAPI()
        http.state.payment, http.state.settings = self.payment, Settings(var_dir=tmp_path)
        install_common(http, ready=list)
        http.include_router(router)
        http.include_router(pages_router)
        self.client = TestClient(http)
        self.recorded: set[str] = set()
        self.assessed = 0

    def assess(self) -> DossierReceived:
        event = received(CRIMINAL_RECORD, {"so_phieu_cap_them": 0})
        self.assessed += 1  # the dossier codes are told apart, as intake numbers them
        event = event.model_copy(update={"code": f"{event.code[:-4]}{self.assessed:04d}"})
        self.consume(event)
        return event

    def consume(self, event: Any) -> None:
        consume(self.payment, event)
        self.check(event.dossier_id)

    def checkout(self, event: DossierReceived) -> str:
        attempt: str = self.payment.checkout(str(event.dossier_id), "t")["attempt_id"]
        self.check(event.dossier_id)
        return attempt

    def gateway_says(self, event: DossierReceived, attempt: str, status: str, **extra: Any) -> None:
        deliver(self.payment, callback(attempt, status, **extra))
        self.check(event.dossier_id)

    def replayed(self, dossier_id: uuid.UUID) -> dict[str, Any]:
        """The bill's view as it was built before its read model: from the aggregate."""
        bill: Bill = self.payment.repository.get(dossier_id)
        self.recorded.update(type(e).__name__ for e in self.payment.events.get(dossier_id))
        view = BillView.model_validate(self.payment.view_bill(bill))
        return view.model_dump(mode="json")

    def check(self, dossier_id: uuid.UUID) -> None:
        expected = self.replayed(dossier_id)
        code = expected["payment_code"]
        for ref in (str(dossier_id), expected["dossier_code"], code):
            answer = self.client.get(f"/v1/payments/{ref}", headers=ADMIN)
            assert answer.status_code == 200, answer.text
            assert answer.json() == expected, ref
        kept = self.payment.store.read_one(
            "SELECT version FROM {payment_bill_views} WHERE dossier_id = ?", (str(dossier_id),)
        )  # also after events that change nothing the view shows (ResultIssued)
        assert kept == {"version": self.payment.repository.get(dossier_id).version}
        page = self.client.get(f"/pay/{code}")
        assert page.status_code == 200
        assert page.text == self.page_of(dossier_id)

    def page_of(self, dossier_id: uuid.UUID) -> str:
        view = self.payment.view_bill(self.payment.repository.get(dossier_id))
        code = view["payment_code"]
        return pages.pay_page({k: view[k] for k in PUBLIC_FIELDS}, action=f"/pay/{code}")


def result_issued(event: DossierReceived) -> ResultIssued:
    return ResultIssued(
        event_id=uuid.uuid4(),
        dossier_id=event.dossier_id,
        occurred_at=event.occurred_at,
        producer="workflow",
        correlation_id="test",
        agency_code=event.agency_code,
        officer="officer-1",
        kind="pickup",
        issued_at=event.occurred_at,
        appointment_date=event.appointment_date,
        timeliness="early",
    )


def test_every_kind_of_event_leaves_the_bill_as_a_replay_gives_it(tmp_path: Path) -> None:
    life = Lifecycle(tmp_path)
    online = life.assess()
    declined = life.checkout(online)
    life.gateway_says(online, declined, "failed")
    late = life.checkout(online)
    life.clock.now += timedelta(minutes=91)
    life.payment.expire_attempts()
    life.check(online.dossier_id)
    paid = life.checkout(online)
    life.gateway_says(online, paid, "succeeded", amount_vnd=200_000)
    life.gateway_says(online, late, "succeeded", amount_vnd=200_000, transaction_id="GW-LATE")
    life.gateway.refusing = True
    life.payment.send_refunds()
    life.check(online.dossier_id)
    life.consume(result_issued(online))

    counter = life.assess()
    officer = officer_of(counter)
    offline(life.payment, officer, str(counter.dossier_id), "counter", "BL-1")
    life.check(counter.dossier_id)
    life.consume(withdrawal_of(counter))
    closed: Bill = life.payment.repository.get(counter.dossier_id)
    [refund] = closed.refunds
    life.payment.record_refund_paid(officer, str(counter.dossier_id), refund, "PC-1", "t")
    life.check(counter.dossier_id)

    assert life.recorded == EVERY_EVENT


def test_a_bill_saved_before_the_read_model_is_answered_and_gets_its_view(
    tmp_path: Path,
) -> None:
    life = Lifecycle(tmp_path)
    event = life.assess()
    attempt = life.checkout(event)
    life.payment.store.write(lambda tx: tx.execute("DELETE FROM {payment_bill_views}"))

    life.check(event.dossier_id)  # built from the aggregate, then kept
    rows = life.payment.store.read("SELECT dossier_id, version FROM {payment_bill_views}")
    assert rows == [{"dossier_id": str(event.dossier_id), "version": 2}]

    life.gateway_says(event, attempt, "succeeded", amount_vnd=200_000)


@pytest.mark.parametrize(
    "caller",
    [
        Caller(sub="someone-else", role="citizen"),
        Caller(sub="o", role="officer", agency="000.00.99.H23"),
    ],
    ids=["another citizen", "an officer of another agency"],
)
def test_others_get_a_404_and_the_payer_and_agency_the_bill(tmp_path: Path, caller: Caller) -> None:
    life = Lifecycle(tmp_path)
    event = life.assess()
    for ref in (str(event.dossier_id), event.code):
        with pytest.raises(NotFound, match="no such bill"):
            life.payment.bill_for(caller, ref)
        for allowed in (Caller(sub="citizen-1", role="citizen"), officer_of(event)):
            assert life.payment.bill_for(allowed, ref)["dossier_code"] == event.code
