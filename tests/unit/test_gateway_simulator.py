"""The payment gateway simulator (devtools/gateway_simulator/).

The simulator runs in a ``TestClient`` (inside ``with``, so that its event loop and the
background callback tasks live for the whole test); callbacks go to a real HTTP
receiver served by uvicorn in a thread, which verifies their signatures as the payment
service will.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient

from devtools.gateway_simulator import SimConfig, Simulator, create_app
from services.payment.gateway import (
    Callback,
    Message,
    Order,
    RefundRequest,
    parse_settlement,
    signed_headers,
    verify,
)

SECRET = "test-gateway-secret"
TOLERANCE = 300.0
DEADLINE_SECONDS = 5.0
# 00:30 in Hanoi on 3 March is still 2 March in UTC: settlement days are Vietnam days.
PAID_AT = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)


@dataclass
class Received:
    callback: Callback
    signature_ok: bool


@dataclass
class Receiver:
    """The merchant's callback endpoint: records what arrives, can refuse the first N."""

    url: str
    received: list[Received] = field(default_factory=list)
    refuse_first: int = 0
    refusal_status: int = 503
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: Any, body: bytes) -> int:
        with self.lock:
            if self.refuse_first > 0:
                self.refuse_first -= 1
                return self.refusal_status
            try:
                verify(SECRET, headers, body, tolerance=TOLERANCE)
                signature_ok = True
            except Exception:
                signature_ok = False
            self.received.append(Received(Callback.model_validate_json(body), signature_ok))
            return 200

    def of(self, order_id: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.callback.order_id == order_id]


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def wait_for_deliveries(client: TestClient, count: int) -> list[dict[str, Any]]:
    """The simulator's delivery list once ``count`` copies were acknowledged."""
    found: list[dict[str, Any]] = []

    def done() -> bool:
        found[:] = client.get("/sim/callbacks").json()
        return sum(1 for d in found if d["delivered"]) >= count

    wait_until(done, f"{count} acknowledged callbacks")
    return found


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[int]:
    """Serve ``app`` on a free port until the generator is closed; yields the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: bool(server.started), "the receiver to start")
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    app = FastAPI()
    holder: list[Receiver] = []

    @app.post("/callback")
    async def callback(request: Request) -> Response:
        return Response(status_code=holder[0].handle(request.headers, await request.body()))

    with serve_in_thread(app) as port:
        holder.append(Receiver(url=f"http://127.0.0.1:{port}/callback"))
        yield holder[0]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(PAID_AT)


@pytest.fixture
def make_sim(tmp_path: Path, clock: FakeClock) -> Callable[..., Simulator]:
    def make(**config: Any) -> Simulator:
        settings = {"duplicates": 0, "shuffle": False, **config}
        return Simulator(
            SECRET,
            tmp_path / "gateway-sim",
            config=SimConfig(**settings),
            clock=clock,
            base_url="http://gw.test",
            tolerance=TOLERANCE,
        )

    return make


@pytest.fixture
def gateway(make_sim: Callable[..., Simulator]) -> Iterator[TestClient]:
    with TestClient(create_app(make_sim()), follow_redirects=False) as client:
        yield client


def make_order(order_id: str = "ATT-1", callback_url: str = "http://127.0.0.1:9/cb") -> Order:
    return Order(
        order_id=order_id,
        payment_code="G01-260302-0001",
        amount_vnd=1_250_000,
        description="Lệ phí cấp giấy phép xây dựng",
        return_url="https://dvc.example.vn/v1/payments/returned?lang=vi",
        callback_url=callback_url,
        expires_at=PAID_AT + timedelta(minutes=90),
    )


def post_signed(
    client: TestClient, path: str, message: Message, secret: str = SECRET, now: float | None = None
) -> Any:
    body = message.model_dump_json().encode()
    headers = {"Content-Type": "application/json", **signed_headers(secret, body, now=now)}
    return client.post(path, content=body, headers=headers)


def get_settlement(client: TestClient, day: str) -> Any:
    path = f"/v1/settlements/{day}"
    return client.get(path, headers=signed_headers(SECRET, path.encode()))


def open_order(client: TestClient, order: Order) -> None:
    response = post_signed(client, "/v1/orders", order)
    assert response.status_code == 201, response.text


def pay(client: TestClient, order_id: str, action: str = "approve") -> str:
    """Click a button of the hosted page; return the transaction id of the outcome."""
    response = client.post(f"/pay/{order_id}/{action}")
    assert response.status_code == 303
    view = client.get(f"/sim/orders/{order_id}").json()
    transaction_id: str = view["transaction_id"]
    return transaction_id


# -- orders and signatures ------------------------------------------------------------


def test_signed_order_is_created_with_its_pay_url(gateway: TestClient) -> None:
    response = post_signed(gateway, "/v1/orders", make_order())

    assert response.status_code == 201
    assert response.json() == {"order_id": "ATT-1", "pay_url": "http://gw.test/pay/ATT-1"}
    assert gateway.get("/sim/orders/ATT-1").json()["status"] == "pending"


def test_order_signed_with_another_secret_is_refused(gateway: TestClient) -> None:
    response = post_signed(gateway, "/v1/orders", make_order(), secret="forged")

    assert response.status_code == 401
    assert "does not match" in response.json()["error"]
    assert gateway.get("/sim/orders/ATT-1").status_code == 404


def test_order_with_stale_signature_is_refused(gateway: TestClient) -> None:
    response = post_signed(gateway, "/v1/orders", make_order(), now=time.time() - 1000)

    assert response.status_code == 401
    assert "stale" in response.json()["error"]


def test_unsigned_order_is_refused(gateway: TestClient) -> None:
    response = gateway.post("/v1/orders", content=make_order().model_dump_json())

    assert response.status_code == 401


def test_same_order_twice_gets_same_answer_but_other_details_conflict(
    gateway: TestClient,
) -> None:
    first = post_signed(gateway, "/v1/orders", make_order())
    again = post_signed(gateway, "/v1/orders", make_order())
    changed = make_order().model_copy(update={"amount_vnd": 999})
    conflict = post_signed(gateway, "/v1/orders", changed)

    assert again.status_code == 201
    assert again.json() == first.json()
    assert conflict.status_code == 409
    assert gateway.get("/sim/orders/ATT-1").json()["order"]["amount_vnd"] == 1_250_000


# -- the hosted page ----------------------------------------------------------------


def test_page_shows_amount_in_dong_and_both_buttons(gateway: TestClient) -> None:
    open_order(gateway, make_order())

    page = gateway.get("/pay/ATT-1")

    assert page.status_code == 200
    assert "1.250.000 đồng" in page.text
    assert "G01-260302-0001" in page.text
    assert "Lệ phí cấp giấy phép xây dựng" in page.text
    assert 'action="ATT-1/approve"' in page.text
    assert 'action="ATT-1/decline"' in page.text
    assert 'name="viewport"' in page.text


def test_page_escapes_the_description(gateway: TestClient) -> None:
    open_order(gateway, make_order().model_copy(update={"description": "<script>x</script>"}))

    page = gateway.get("/pay/ATT-1")

    assert "<script>x</script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_page_of_paid_order_shows_status_without_buttons(gateway: TestClient) -> None:
    open_order(gateway, make_order())
    transaction_id = pay(gateway, "ATT-1")

    page = gateway.get("/pay/ATT-1")

    assert "Đã thanh toán" in page.text
    assert transaction_id in page.text
    assert "/approve" not in page.text


def test_page_of_unknown_order_is_404(gateway: TestClient) -> None:
    page = gateway.get("/pay/NOPE")

    assert page.status_code == 404
    assert "Không tìm thấy" in page.text


# -- approving and declining ----------------------------------------------------------


def test_approve_redirects_to_return_url_with_order_and_status(gateway: TestClient) -> None:
    open_order(gateway, make_order())

    response = gateway.post("/pay/ATT-1/approve")

    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.netloc == "dvc.example.vn"
    assert location.path == "/v1/payments/returned"
    assert parse_qs(location.query) == {
        "lang": ["vi"],
        "order_id": ["ATT-1"],
        "status": ["succeeded"],
    }


def test_second_click_never_charges_twice(gateway: TestClient) -> None:
    open_order(gateway, make_order())

    first = gateway.post("/pay/ATT-1/approve")
    second = gateway.post("/pay/ATT-1/approve")
    late_decline = gateway.post("/pay/ATT-1/decline")

    view = gateway.get("/sim/orders/ATT-1").json()
    assert view["status"] == "succeeded"
    assert [t["transaction_id"][:2] for t in view["transactions"]] == ["GW"]
    assert view["transactions"][0]["amount_vnd"] == 1_250_000
    assert first.headers["location"] == second.headers["location"]
    assert late_decline.headers["location"].endswith("status=succeeded")
    assert len(get_settlement(gateway, "2026-03-03").text.splitlines()) == 2  # header + 1


def test_decline_fails_with_reason_and_nothing_settles(gateway: TestClient) -> None:
    open_order(gateway, make_order())

    response = gateway.post("/pay/ATT-1/decline")

    assert response.headers["location"].endswith("status=failed")
    view = gateway.get("/sim/orders/ATT-1").json()
    assert view["status"] == "failed"
    assert view["transactions"][0]["reason"] == "Người thanh toán từ chối"
    assert parse_settlement(get_settlement(gateway, "2026-03-03").text) == []


def test_click_on_unknown_order_is_404(gateway: TestClient) -> None:
    assert gateway.post("/pay/NOPE/approve").status_code == 404


# -- callbacks ------------------------------------------------------------------------


def test_callbacks_arrive_signed_with_duplicates_of_each(
    make_sim: Callable[..., Simulator], receiver: Receiver
) -> None:
    sim = make_sim(duplicates=2, shuffle=True)
    with TestClient(create_app(sim), follow_redirects=False) as client:
        open_order(client, make_order(callback_url=receiver.url))
        transaction_id = pay(client, "ATT-1")

        deliveries = wait_for_deliveries(client, 6)

    got = receiver.of("ATT-1")
    processing = [r.callback for r in got if r.callback.status == "processing"]
    succeeded = [r.callback for r in got if r.callback.status == "succeeded"]
    assert all(r.signature_ok for r in got)
    assert (len(got), len(processing), len(succeeded)) == (6, 3, 3)
    assert len({c.event_id for c in processing}) == 1
    assert len({c.event_id for c in succeeded}) == 1
    assert processing[0].event_id != succeeded[0].event_id
    assert {c.transaction_id for c in processing} == {None}
    assert {c.transaction_id for c in succeeded} == {transaction_id}
    assert {c.amount_vnd for c in succeeded} == {1_250_000}
    assert len(deliveries) == 6
    assert all(d["http_status"] == 200 and d["attempts"] == 1 for d in deliveries)


def test_decline_calls_back_failed_with_reason(
    make_sim: Callable[..., Simulator], receiver: Receiver
) -> None:
    with TestClient(create_app(make_sim()), follow_redirects=False) as client:
        open_order(client, make_order(callback_url=receiver.url))
        pay(client, "ATT-1", "decline")

        wait_until(lambda: len(receiver.of("ATT-1")) >= 2, "two callbacks")

    statuses = [r.callback.status for r in receiver.of("ATT-1")]
    assert statuses == ["processing", "failed"]  # shuffle is off: in order
    assert receiver.of("ATT-1")[1].callback.reason == "Người thanh toán từ chối"


def test_callbacks_are_retried_until_the_receiver_answers(
    make_sim: Callable[..., Simulator], receiver: Receiver
) -> None:
    receiver.refuse_first, receiver.refusal_status = 3, 401
    with TestClient(create_app(make_sim()), follow_redirects=False) as client:
        open_order(client, make_order(callback_url=receiver.url))
        pay(client, "ATT-1")

        deliveries = wait_for_deliveries(client, 2)

    assert {r.callback.status for r in receiver.of("ATT-1")} == {"processing", "succeeded"}
    assert all(r.signature_ok for r in receiver.of("ATT-1"))
    assert sum(d["attempts"] for d in deliveries) == 5
    assert all(d["delivered"] for d in deliveries)


def test_dropped_callbacks_are_never_sent(
    make_sim: Callable[..., Simulator], receiver: Receiver
) -> None:
    with TestClient(create_app(make_sim()), follow_redirects=False) as client:
        client.put("/sim/config", json={"drop_callbacks": True}).raise_for_status()
        open_order(client, make_order("LOST", callback_url=receiver.url))
        lost_transaction = pay(client, "LOST")
        client.put("/sim/config", json={"drop_callbacks": False}).raise_for_status()
        open_order(client, make_order("SEEN", callback_url=receiver.url))
        pay(client, "SEEN")

        wait_until(lambda: len(receiver.of("SEEN")) >= 2, "the other order's callbacks")
        lost = client.get("/sim/orders/LOST").json()
        deliveries = client.get("/sim/callbacks").json()

    assert receiver.of("LOST") == []
    assert {d["order_id"] for d in deliveries} == {"SEEN"}
    assert lost["status"] == "succeeded"
    assert lost["transactions"][0]["callbacks_dropped"] is True
    assert lost_transaction.startswith("GW")


def test_config_is_validated_and_reported(gateway: TestClient) -> None:
    bad = gateway.put("/sim/config", json={"duplicates": -1})
    good = gateway.put("/sim/config", json={"duplicates": 3, "delay_seconds": 0.5})

    assert bad.status_code == 422
    assert good.json() == {
        "duplicates": 3,
        "delay_seconds": 0.5,
        "shuffle": False,
        "drop_callbacks": False,
    }
    assert gateway.get("/sim/config").json() == good.json()


# -- refunds and settlement ---------------------------------------------------------


def refund(client: TestClient, refund_id: str, transaction_id: str, amount: int) -> Any:
    request = RefundRequest(
        refund_id=refund_id, transaction_id=transaction_id, amount_vnd=amount, reason="Hoàn phí"
    )
    response = post_signed(client, "/v1/refunds", request)
    assert response.status_code == 200, response.text
    return response.json()


def test_refund_is_idempotent_by_refund_id(gateway: TestClient) -> None:
    open_order(gateway, make_order())
    paid = pay(gateway, "ATT-1")

    first = refund(gateway, "R-1", paid, 1_000_000)
    again = refund(gateway, "R-1", paid, 1_000_000)

    assert first["status"] == "succeeded"
    assert first["transaction_id"].startswith("RF")
    assert again == first
    rows = parse_settlement(get_settlement(gateway, "2026-03-03").text)
    assert [r.kind for r in rows] == ["payment", "refund"]


def test_refund_beyond_the_paid_amount_fails(gateway: TestClient) -> None:
    open_order(gateway, make_order())
    paid = pay(gateway, "ATT-1")

    refund(gateway, "R-1", paid, 1_000_000)
    over = refund(gateway, "R-2", paid, 250_001)
    rest = refund(gateway, "R-3", paid, 250_000)

    assert over["status"] == "failed"
    assert over["transaction_id"] is None
    assert "250.000 đồng" in over["reason"]
    assert rest["status"] == "succeeded"


def test_refund_of_unknown_or_declined_transaction_fails(gateway: TestClient) -> None:
    open_order(gateway, make_order())
    declined = pay(gateway, "ATT-1", "decline")

    unknown = refund(gateway, "R-1", "GW000000000000", 1_000)
    refused = refund(gateway, "R-2", declined, 1_000)

    assert unknown["status"] == "failed"
    assert unknown["reason"] == "Không tìm thấy giao dịch"
    assert refused["status"] == "failed"


def test_refund_must_be_signed(gateway: TestClient) -> None:
    request = RefundRequest(refund_id="R-1", transaction_id="GW1", amount_vnd=1, reason="x")

    response = post_signed(gateway, "/v1/refunds", request, secret="forged")

    assert response.status_code == 401


def test_settlement_lists_the_vietnam_day_and_applies_adjustments(
    gateway: TestClient, clock: FakeClock
) -> None:
    open_order(gateway, make_order())
    paid = pay(gateway, "ATT-1")
    clock.now = PAID_AT + timedelta(hours=8)  # 08:30 the same Vietnam day
    refunded = refund(gateway, "R-1", paid, 50_000)["transaction_id"]
    clock.now = PAID_AT + timedelta(days=1)
    refund(gateway, "R-2", paid, 10_000)  # the next day: not in this file

    before = get_settlement(gateway, "2026-03-03")
    adjusted = gateway.post(
        "/sim/settlement-adjustments", json={"transaction_id": paid, "amount_vnd": 1_200_000}
    )
    after = parse_settlement(get_settlement(gateway, "2026-03-03").text)

    assert before.headers["content-type"].startswith("text/csv")
    rows = parse_settlement(before.text)
    assert [(r.transaction_id, r.kind, r.amount_vnd) for r in rows] == [
        (paid, "payment", 1_250_000),
        (refunded, "refund", 50_000),
    ]
    assert rows[0].order_id == "ATT-1"
    assert rows[0].payment_code == "G01-260302-0001"
    assert rows[0].occurred_at == PAID_AT
    assert parse_settlement(get_settlement(gateway, "2026-03-02").text) == []
    assert adjusted.status_code == 201
    assert [(r.transaction_id, r.amount_vnd) for r in after] == [
        (paid, 1_200_000),
        (refunded, 50_000),
    ]


def test_settlement_needs_a_signed_path_and_a_real_date(gateway: TestClient) -> None:
    path = "/v1/settlements/2026-03-03"
    other = signed_headers(SECRET, b"/v1/settlements/2026-03-04")

    forged = gateway.get(path, headers=other)
    bad_date = get_settlement(gateway, "2026-02-30")
    compact = get_settlement(gateway, "20260303")

    assert forged.status_code == 401
    assert bad_date.status_code == 422
    assert compact.status_code == 422


def test_adjusting_an_unknown_transaction_is_404(gateway: TestClient) -> None:
    response = gateway.post(
        "/sim/settlement-adjustments", json={"transaction_id": "GW0", "amount_vnd": 1}
    )

    assert response.status_code == 404


# -- the journal ----------------------------------------------------------------------


def test_restart_keeps_orders_transactions_refunds_and_adjustments(
    make_sim: Callable[..., Simulator],
) -> None:
    with TestClient(create_app(make_sim()), follow_redirects=False) as client:
        open_order(client, make_order())
        paid = pay(client, "ATT-1")
        refunded = refund(client, "R-1", paid, 50_000)
        client.post(
            "/sim/settlement-adjustments", json={"transaction_id": paid, "amount_vnd": 7}
        ).raise_for_status()
        before = client.get("/sim/orders/ATT-1").json()

    with TestClient(create_app(make_sim()), follow_redirects=False) as client:
        after = client.get("/sim/orders/ATT-1").json()
        again = refund(client, "R-1", paid, 50_000)
        second_click = client.post("/pay/ATT-1/approve")
        rows = parse_settlement(get_settlement(client, "2026-03-03").text)
        same_order = post_signed(client, "/v1/orders", make_order())

    assert after == before
    assert after["status"] == "succeeded"
    assert again == refunded
    assert second_click.headers["location"].endswith("status=succeeded")
    assert [(r.transaction_id, r.amount_vnd) for r in rows] == [
        (paid, 7),
        (refunded["transaction_id"], 50_000),
    ]
    assert same_order.status_code == 201


def test_restart_sends_callbacks_never_acknowledged(
    make_sim: Callable[..., Simulator], receiver: Receiver
) -> None:
    receiver.refuse_first = 1_000_000  # the merchant is down while the gateway runs
    with TestClient(create_app(make_sim()), follow_redirects=False) as client:
        open_order(client, make_order(callback_url=receiver.url))
        transaction_id = pay(client, "ATT-1")
    receiver.refuse_first = 0

    with TestClient(create_app(make_sim()), follow_redirects=False):
        wait_until(lambda: len(receiver.of("ATT-1")) >= 2, "callbacks after the restart")

    finals = [r.callback for r in receiver.of("ATT-1") if r.callback.status == "succeeded"]
    assert [c.transaction_id for c in finals] == [transaction_id]


def test_torn_last_journal_line_is_ignored(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim()
    sim.create_order(make_order())
    with sim.journal.open("a") as out:
        out.write('{"kind": "order", "da')

    reloaded = make_sim()

    assert list(reloaded.orders) == ["ATT-1"]


def test_settlement_day_uses_vietnam_time(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim()
    sim.create_order(make_order())
    sim.decide("ATT-1", approve=True)

    assert len(sim.settlement(date(2026, 3, 3))) == 1
    assert sim.settlement(date(2026, 3, 2)) == []


def test_healthz(gateway: TestClient) -> None:
    assert gateway.get("/healthz").json() == {"status": "ok"}
