"""Postal: a shipment requested once, ordered through an operator that may be down, and
moved only forward by callbacks that must be signed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.envelope import PostalAddress
from contracts.intake import DossierReceived
from contracts.workflow import ResultIssued
from devtools.postal_simulator import PostalSim
from devtools.postal_simulator import create_app as simulator_app
from motcua.core.errors import NotFound, Unauthorized
from motcua.runtime.mapping import contracts_of
from motcua.runtime.store import store_env
from services.postal.application import PostalApplication
from services.postal.operator import (
    POSTAL_SIGNATURE,
    HttpPostalOperator,
    PostalError,
    ShipmentOrder,
    TrackingCallback,
)
from services.postal.settings import PostalSettings
from services.postal.to_contract import PostalPublisher
from tests.support.ledger import deliver
from tests.support.samples import received

SECRET = "test-postal-secret"
ADDRESS = {
    "recipient": "LÊ MINH CHÂU",
    "phone": "0912000003",
    "street": "Số 5, đường Lý Thường Kiệt",
    "ward": "Phường 1",
    "district": "",
    "province": "Đồng Tháp",
}


class Operator:
    """The simulator's rules, in-process, behind the adapter's interface; can be down."""

    def __init__(self, sim: PostalSim) -> None:
        self.sim, self.down = sim, False
        self.verifier = HttpPostalOperator(PostalSettings(postal_secret=SECRET))

    def order(self, order: ShipmentOrder) -> str:
        if self.down:
            raise PostalError("the operator is down (test)")
        return self.sim.take(order)

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> TrackingCallback:
        return self.verifier.verify_callback(headers, body)


@pytest.fixture
def sim(tmp_path: Path) -> PostalSim:
    return PostalSim(SECRET, tmp_path / "sim")


@pytest.fixture
def operator(sim: PostalSim) -> Operator:
    return Operator(sim)


@pytest.fixture
def app(
    tmp_path: Path, operator: Operator, database_url: str | None
) -> Iterator[PostalApplication]:
    """Postal on SQLite and on PostgreSQL: its tables and upserts are SQL of its own."""
    settings = PostalSettings(
        postal_secret=SECRET, postal_retry_base_seconds=0.05, postal_retry_max_seconds=0.05
    )
    application = PostalApplication(
        store_env(database_url, str(tmp_path), "postal"), settings=settings, operator=operator
    )
    yield application
    application.close()


def dossier(address: dict[str, Any] | None = ADDRESS) -> tuple[DossierReceived, ResultIssued]:
    r = received("1.001193")
    if address is not None:
        r = r.model_copy(update={"delivery_address": PostalAddress(**address)})
    issued = ResultIssued(
        event_id=uuid.uuid4(),
        dossier_id=r.dossier_id,
        occurred_at=datetime(2026, 3, 3, 2, 0, tzinfo=UTC),
        producer="workflow",
        correlation_id="t",
        agency_code=r.agency_code,
        officer="o",
        kind="post",
        issued_at=datetime(2026, 3, 3, 2, 0, tzinfo=UTC),
        appointment_date=date(2026, 3, 3),
        timeliness="on_time",
    )
    return DossierReceived.model_validate(r.model_dump()), issued


def signed(callback: dict[str, Any], secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    body = json.dumps(callback).encode()
    return POSTAL_SIGNATURE.headers(secret, body), body


def news(app: PostalApplication, dossier_id: uuid.UUID, status: str, event_id: str) -> str:
    [row] = app.store.read("SELECT tracking_number FROM {postal_shipments}")
    callback = {
        "event_id": event_id,
        "order_id": str(dossier_id),
        "tracking_number": row["tracking_number"] or "EB000000001VN",
        "status": status,
        "at": "2026-03-04T03:00:00+00:00",
        "received_by": "",
        "reason": "",
    }
    return app.callback(*signed(callback))


def published(app: PostalApplication) -> list[str]:
    events = app.recorder.select_notifications(start=1, limit=100)
    stored = [app.mapper.to_domain_event(e) for e in events]
    contracts = contracts_of(stored, PostalPublisher(app), app.repository)
    return [type(c).__name__ for c in contracts if c is not None]


def test_a_result_for_post_is_ordered_once_even_while_the_operator_was_down(
    app: PostalApplication, operator: Operator, sim: PostalSim
) -> None:
    r, issued = dossier()
    operator.down = True
    deliver(app, app.store, app.handlers(), r, issued, issued)  # the result twice: one shipment
    assert app.place_due() == 1
    [row] = app.store.read("SELECT status, attempts, last_error FROM {postal_shipments}")
    assert (row["status"], row["attempts"]) == ("requested", 1)
    assert "down" in row["last_error"]
    operator.down = False
    time.sleep(0.06)
    assert app.place_due() == 1
    [order] = sim.orders.values()
    assert order["order"]["address"] == ADDRESS
    assert order["order"]["code"] == r.code
    assert app.place_due() == 0
    assert published(app) == ["ShipmentOrdered"]


def test_callbacks_move_the_shipment_forward_once_each(app: PostalApplication) -> None:
    r, issued = dossier()
    deliver(app, app.store, app.handlers(), r, issued)
    app.place_due()
    assert news(app, r.dossier_id, "picked_up", "e1") == "applied"
    assert news(app, r.dossier_id, "picked_up", "e1") == "ignored"  # the same callback again
    assert news(app, r.dossier_id, "delivered", "e2") == "applied"
    assert news(app, r.dossier_id, "picked_up", "e3") == "ignored"  # late news: never backwards
    assert published(app) == ["ShipmentOrdered", "ShipmentPickedUp", "ShipmentDelivered"]


def test_a_callback_before_the_order_s_answer_was_recorded_records_the_order(
    app: PostalApplication,
) -> None:
    r, issued = dossier()
    deliver(app, app.store, app.handlers(), r, issued)  # requested, not yet ordered
    assert news(app, r.dossier_id, "delivered", "e1") == "applied"
    assert published(app) == ["ShipmentOrdered", "ShipmentDelivered"]


def test_forged_unknown_or_malformed_callbacks_are_refused(app: PostalApplication) -> None:
    r, issued = dossier()
    deliver(app, app.store, app.handlers(), r, issued)
    callback = {
        "event_id": "e1",
        "order_id": str(r.dossier_id),
        "tracking_number": "EB1VN",
        "status": "delivered",
        "at": "2026-03-04T03:00:00+00:00",
    }
    with pytest.raises(Unauthorized, match="signature does not match"):
        app.callback(*signed(callback, secret="not-the-key"))
    with pytest.raises(NotFound):
        app.callback(*signed({**callback, "order_id": str(uuid.uuid4())}))
    with pytest.raises(NotFound):
        app.callback(*signed({**callback, "order_id": "not-an-id"}))
    assert published(app) == []


def test_a_result_for_post_without_an_address_is_shown_never_ordered(
    app: PostalApplication, sim: PostalSim
) -> None:
    r, issued = dossier(address=None)
    deliver(app, app.store, app.handlers(), r, issued)
    [row] = app.store.read("SELECT code, status, last_error FROM {postal_shipments}")
    assert (row["code"], row["status"]) == (r.code, "no_address")
    assert app.place_due() == 0
    assert sim.orders == {}


def test_the_simulator_takes_an_order_once_and_refuses_an_unsigned_one(tmp_path: Path) -> None:
    client = TestClient(simulator_app(PostalSim(SECRET, tmp_path)))
    order = ShipmentOrder(
        order_id="o-1",
        code="X-1",
        sender="H23",
        address=PostalAddress(**ADDRESS),
        callback_url="http://127.0.0.1:9/cb",
    )
    body = order.model_dump_json().encode()
    first = client.post(
        "/v1/shipments", content=body, headers=POSTAL_SIGNATURE.headers(SECRET, body)
    )
    again = client.post(
        "/v1/shipments", content=body, headers=POSTAL_SIGNATURE.headers(SECRET, body)
    )
    assert first.status_code == 200, first.text
    assert first.json()["tracking_number"] == again.json()["tracking_number"]
    assert first.json()["tracking_number"].startswith("EB")
    assert client.post("/v1/shipments", content=body).status_code == 401
