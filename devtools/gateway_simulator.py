"""A stand-in for the national payment platform, for staging, the demo and tests.

No real gateway (VNPay, the national payment platform) can be called from a laptop or
a CI machine, yet the payment service must be exercised against the ugly parts of one:
callbacks that arrive twice, late, out of order or never, a receiver that must verify
signatures, refunds, and a settlement file that disagrees with the merchant's records.
This process speaks the signed-callback protocol of ``services.payment.gateway`` and
misbehaves on request:

* ``POST /v1/orders``, ``POST /v1/refunds``, ``GET /v1/settlements/YYYY-MM-DD``: the
  merchant's side of the protocol, signed like a real gateway expects;
* ``GET /pay/<order_id>``: the hosted page where the applicant approves or declines;
* ``/sim/...`` (unsigned, never expose it): duplicates, delay, shuffling and lost
  callbacks (``/sim/config``), settlement mismatches (``/sim/settlement-adjustments``),
  and what happened (``/sim/orders/<order_id>``, ``/sim/callbacks``).

State lives in memory and in a JSON-lines journal (``journal.jsonl`` in the folder
given, ``var/gateway-sim`` by default), replayed on start, so a restart keeps orders,
transactions and refunds and sends again the callbacks that were never acknowledged.
The behaviour settings are not journaled: after a restart they come from the
environment again. Run: ``python -m devtools.gateway_simulator``.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
import structlog
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from motcua.core.calendar import VIETNAM_TZ, local_date
from motcua.core.clock import Clock, make_clock, system_clock
from motcua.core.logging import configure_logging
from motcua.core.money import money_vnd
from motcua.runtime.settings import Settings
from services.payment.gateway import (
    BadSignature,
    Callback,
    Order,
    RefundOutcome,
    RefundRequest,
    SettlementRow,
    settlement_csv,
    signed_headers,
    verify,
)
from services.payment.settings import PaymentSettings

log = structlog.get_logger(__name__)

JOURNAL_NAME = "journal.jsonl"
DECLINED_REASON = "Người thanh toán từ chối"
FIRST_BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 5.0
SEND_TIMEOUT_SECONDS = 10.0
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

Status = Literal["succeeded", "failed"]


class SimConfig(BaseModel):
    """How badly the gateway behaves towards the merchant's callback receiver."""

    model_config = ConfigDict(extra="forbid")

    duplicates: int = Field(default=1, ge=0, description="Extra copies of every callback")
    delay_seconds: float = Field(default=0.0, ge=0, description="Wait before each send")
    shuffle: bool = Field(default=True, description="Send an outcome's callbacks in any order")
    drop_callbacks: bool = Field(
        default=False, description="Never call back about outcomes created while on"
    )


class ConfigUpdate(BaseModel):
    """``PUT /sim/config``: the fields given replace the current ones."""

    model_config = ConfigDict(extra="forbid")

    duplicates: int | None = Field(default=None, ge=0)
    delay_seconds: float | None = Field(default=None, ge=0)
    shuffle: bool | None = None
    drop_callbacks: bool | None = None


class Adjustment(BaseModel):
    """Make the settlement file report ``amount_vnd`` for a transaction (a mismatch)."""

    model_config = ConfigDict(extra="forbid")

    transaction_id: str
    amount_vnd: int = Field(ge=0)


class Transaction(BaseModel):
    """Money that moved (or was refused): a payment outcome or a refund."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    transaction_id: str
    order_id: str
    payment_code: str
    kind: Literal["payment", "refund"]
    status: Status
    amount_vnd: int
    occurred_at: AwareDatetime
    reason: str | None = None
    callbacks: tuple[Callback, ...] = ()
    callbacks_dropped: bool = False


class RefundRecord(BaseModel):
    """A refund request with its answer; one journal line, so both exist or neither."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: RefundRequest
    outcome: RefundOutcome
    transaction: Transaction | None = None


@dataclass
class Delivery:
    """One copy of one callback on its way to the merchant."""

    callback: Callback
    url: str
    copy: int
    attempts: int = 0
    http_status: int | None = None
    delivered: bool = False
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "order_id": self.callback.order_id,
            "event_id": self.callback.event_id,
            "status": self.callback.status,
            "copy": self.copy,
            "attempts": self.attempts,
            "http_status": self.http_status,
            "delivered": self.delivered,
            "error": self.error,
        }


@dataclass(frozen=True)
class Decision:
    """The applicant's click: the order's outcome, and whether this click created it."""

    order: Order
    transaction: Transaction
    new: bool
    config: SimConfig


class Conflict(Exception):
    """An id reused for a different request."""


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:12].upper()


def return_to(order: Order, status: str) -> str:
    """The merchant's return URL with ``order_id`` and ``status`` added to its query."""
    parts = urlsplit(order.return_url)
    query = [*parse_qsl(parts.query, keep_blank_values=True)]
    query += [("order_id", order.order_id), ("status", status)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def parse_day(text: str) -> date:
    """Only ``YYYY-MM-DD``; ``date.fromisoformat`` alone would also take ``20260302``."""
    if not _DAY.fullmatch(text):
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return date.fromisoformat(text)


class Simulator:
    """The gateway's books: orders, transactions, refunds, and how it misbehaves.

    Every change is a journal line applied to memory by ``_apply``, both live and when
    the journal is replayed, so the two can never disagree. A ``threading.Lock`` guards
    the state because handlers and test code may run on different threads.
    """

    def __init__(
        self,
        secret: str,
        folder: Path,
        *,
        config: SimConfig | None = None,
        clock: Clock = system_clock,
        port: int = 8007,
        base_url: str | None = None,
        tolerance: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        self.secret, self.clock, self.tolerance = secret, clock, tolerance
        self.base_url = (base_url or f"http://127.0.0.1:{port}").rstrip("/")
        self.config = config or SimConfig()
        self.rng = rng or random.Random()
        self.lock = threading.Lock()
        self.orders: dict[str, Order] = {}
        self.transactions: dict[str, Transaction] = {}
        self.outcomes: dict[str, str] = {}  # order_id -> its payment transaction_id
        self.refunds: dict[str, RefundRecord] = {}
        self.adjustments: dict[str, int] = {}
        self.delivered: set[str] = set()  # event ids acknowledged at least once
        self.deliveries: list[Delivery] = []
        folder.mkdir(parents=True, exist_ok=True)
        self.journal = folder / JOURNAL_NAME
        self._replay()

    # -- journal ------------------------------------------------------------------

    def _replay(self) -> None:
        if not self.journal.exists():
            return
        lines = self.journal.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                if number < len(lines):
                    raise
                log.warning("journal ends with a torn line; ignored", path=str(self.journal))
                continue
            self._apply(entry["kind"], entry["data"])

    def _record(self, kind: str, data: Mapping[str, Any]) -> None:
        """Append a change to the journal, then apply it. Call with the lock held."""
        with self.journal.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"kind": kind, "data": data}, ensure_ascii=False) + "\n")
        self._apply(kind, data)

    def _apply(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind == "order":
            order = Order.model_validate(data)
            self.orders[order.order_id] = order
        elif kind == "transaction":
            self._add_transaction(Transaction.model_validate(data))
        elif kind == "refund":
            record = RefundRecord.model_validate(data)
            self.refunds[record.request.refund_id] = record
            if record.transaction is not None:
                self._add_transaction(record.transaction)
        elif kind == "adjustment":
            self.adjustments[data["transaction_id"]] = int(data["amount_vnd"])
        elif kind == "delivered":
            self.delivered.add(data["event_id"])
        else:
            raise ValueError(f"unknown journal entry {kind!r}")

    def _add_transaction(self, transaction: Transaction) -> None:
        self.transactions[transaction.transaction_id] = transaction
        if transaction.kind == "payment":
            self.outcomes[transaction.order_id] = transaction.transaction_id

    # -- the protocol ---------------------------------------------------------------

    def check_signature(self, headers: Mapping[str, str], payload: bytes) -> None:
        verify(self.secret, headers, payload, tolerance=self.tolerance)

    def pay_url(self, order_id: str) -> str:
        return f"{self.base_url}/pay/{quote(order_id, safe='')}"

    def create_order(self, order: Order) -> str:
        """Register the order (again: no change) and return its hosted page's URL."""
        with self.lock:
            known = self.orders.get(order.order_id)
            if known is None:
                self._record("order", order.model_dump(mode="json"))
            elif known != order:
                raise Conflict(f"order {order.order_id} exists with other details")
        return self.pay_url(order.order_id)

    def decide(self, order_id: str, approve: bool) -> Decision | None:
        """The order's outcome, created by the first click only; None if no such order."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return None
            known = self.outcomes.get(order_id)
            if known is not None:
                return Decision(order, self.transactions[known], False, self.config)
            transaction = self._outcome(order, approve)
            self._record("transaction", transaction.model_dump(mode="json"))
            return Decision(order, transaction, True, self.config)

    def _outcome(self, order: Order, approve: bool) -> Transaction:
        transaction_id, now = new_id("GW"), self.clock()
        status: Status = "succeeded" if approve else "failed"
        reason = None if approve else DECLINED_REASON
        processing = Callback(
            event_id=f"{transaction_id}.processing",
            order_id=order.order_id,
            status="processing",
            amount_vnd=order.amount_vnd,
            occurred_at=now,
        )
        final = processing.model_copy(
            update={
                "event_id": f"{transaction_id}.{status}",
                "status": status,
                "transaction_id": transaction_id,
                "reason": reason,
            }
        )
        return Transaction(
            transaction_id=transaction_id,
            order_id=order.order_id,
            payment_code=order.payment_code,
            kind="payment",
            status=status,
            amount_vnd=order.amount_vnd,
            occurred_at=now,
            reason=reason,
            callbacks=(processing, final),
            callbacks_dropped=self.config.drop_callbacks,
        )

    def refund(self, request: RefundRequest) -> RefundOutcome:
        """Refund once per ``refund_id``; the same id gets the same answer again."""
        with self.lock:
            known = self.refunds.get(request.refund_id)
            if known is not None:
                if known.request != request:
                    raise Conflict(f"refund {request.refund_id} exists with other details")
                return known.outcome
            record = self._judge_refund(request)
            self._record("refund", record.model_dump(mode="json"))
            return record.outcome

    def _judge_refund(self, request: RefundRequest) -> RefundRecord:
        paid = self.transactions.get(request.transaction_id)
        if paid is None:
            return self._refused(request, "Không tìm thấy giao dịch")
        if paid.kind != "payment" or paid.status != "succeeded":
            return self._refused(request, "Giao dịch không phải là một khoản thanh toán thành công")
        refunded = sum(
            r.request.amount_vnd
            for r in self.refunds.values()
            if r.request.transaction_id == paid.transaction_id and r.outcome.status == "succeeded"
        )
        if refunded + request.amount_vnd > paid.amount_vnd:
            left = paid.amount_vnd - refunded
            return self._refused(
                request, f"Số tiền hoàn vượt quá số còn có thể hoàn ({money_vnd(left, 'đồng')})"
            )
        transaction = Transaction(
            transaction_id=new_id("RF"),
            order_id=paid.order_id,
            payment_code=paid.payment_code,
            kind="refund",
            status="succeeded",
            amount_vnd=request.amount_vnd,
            occurred_at=self.clock(),
            reason=request.reason,
        )
        outcome = RefundOutcome(
            refund_id=request.refund_id,
            status="succeeded",
            transaction_id=transaction.transaction_id,
        )
        return RefundRecord(request=request, outcome=outcome, transaction=transaction)

    @staticmethod
    def _refused(request: RefundRequest, reason: str) -> RefundRecord:
        outcome = RefundOutcome(refund_id=request.refund_id, status="failed", reason=reason)
        return RefundRecord(request=request, outcome=outcome)

    def settlement(self, day: date) -> list[SettlementRow]:
        """Successful payments and refunds of ``day`` (Vietnam time), adjustments applied."""
        with self.lock:
            settled = sorted(
                (
                    t
                    for t in self.transactions.values()
                    if t.status == "succeeded" and local_date(t.occurred_at) == day
                ),
                key=lambda t: t.occurred_at,
            )
            return [
                SettlementRow(
                    transaction_id=t.transaction_id,
                    order_id=t.order_id,
                    payment_code=t.payment_code,
                    kind=t.kind,
                    amount_vnd=self.adjustments.get(t.transaction_id, t.amount_vnd),
                    occurred_at=t.occurred_at,
                )
                for t in settled
            ]

    # -- test controls --------------------------------------------------------------

    def update_config(self, update: ConfigUpdate) -> SimConfig:
        with self.lock:
            self.config = self.config.model_copy(update=update.model_dump(exclude_none=True))
            return self.config

    def adjust(self, adjustment: Adjustment) -> bool:
        """Record a settlement mismatch; False if the transaction does not exist."""
        with self.lock:
            if adjustment.transaction_id not in self.transactions:
                return False
            self._record("adjustment", adjustment.model_dump(mode="json"))
            return True

    def order_state(self, order_id: str) -> tuple[Order, Transaction | None] | None:
        """The order and its payment outcome (None while pending); None if unknown."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return None
            outcome = self.outcomes.get(order_id)
            return order, self.transactions[outcome] if outcome else None

    def order_view(self, order_id: str) -> dict[str, Any] | None:
        """``GET /sim/orders/<id>``: the order, its status and all its transactions."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return None
            outcome = self.outcomes.get(order_id)
            transactions = sorted(
                (t for t in self.transactions.values() if t.order_id == order_id),
                key=lambda t: t.occurred_at,
            )
            return {
                "order": order.model_dump(mode="json"),
                "status": self.transactions[outcome].status if outcome else "pending",
                "transaction_id": outcome,
                "transactions": [
                    t.model_dump(mode="json", exclude={"callbacks"}) for t in transactions
                ],
            }

    # -- callback bookkeeping -------------------------------------------------------

    def plan(self, callbacks: Sequence[Callback], url: str, config: SimConfig) -> list[Delivery]:
        """Every copy of every callback, in the order they will be sent."""
        sends = [
            Delivery(callback=c, url=url, copy=n + 1)
            for c in callbacks
            for n in range(1 + config.duplicates)
        ]
        with self.lock:
            if config.shuffle:
                self.rng.shuffle(sends)
            self.deliveries.extend(sends)
        return sends

    def note_attempt(self, send: Delivery, http_status: int | None, error: str | None) -> None:
        """Count an attempt; a 2xx marks the callback's event delivered (journaled once)."""
        with self.lock:
            send.attempts += 1
            send.http_status, send.error = http_status, error
            send.delivered = http_status is not None and 200 <= http_status < 300
            event_id = send.callback.event_id
            if send.delivered and event_id not in self.delivered:
                self._record("delivered", {"event_id": event_id})

    def undelivered(self) -> list[tuple[tuple[Callback, ...], str]]:
        """Callbacks never acknowledged (say, before a restart), with their URL."""
        with self.lock:
            pending = []
            for t in self.transactions.values():
                if t.kind != "payment" or t.callbacks_dropped:
                    continue
                missing = tuple(c for c in t.callbacks if c.event_id not in self.delivered)
                if missing:
                    pending.append((missing, self.orders[t.order_id].callback_url))
            return pending

    def delivery_views(self) -> list[dict[str, Any]]:
        with self.lock:
            return [d.view() for d in self.deliveries]


class CallbackSender:
    """Sends callbacks from background tasks of the app's event loop.

    The copies of an outcome's callbacks get their first attempt one after another, in
    the planned order; a copy that fails keeps trying on its own (backoff 0.2 s doubling
    to 5 s, forever), so one refused callback never holds back the others.
    """

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.tasks: set[asyncio.Task[None]] = set()
        self.client: httpx.AsyncClient | None = None

    def schedule(self, callbacks: Sequence[Callback], url: str, config: SimConfig) -> None:
        sends = self.sim.plan(callbacks, url, config)
        self._spawn(self._send_all(sends, config.delay_seconds))

    def _spawn(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send_all(self, sends: Sequence[Delivery], delay: float) -> None:
        for send in sends:
            await asyncio.sleep(delay)
            if not await self._attempt(send):
                self._spawn(self._retry(send))

    async def _retry(self, send: Delivery) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            await asyncio.sleep(backoff)
            if await self._attempt(send):
                return
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _attempt(self, send: Delivery) -> bool:
        """One POST, signed now so that a late copy still carries a fresh timestamp."""
        body = send.callback.model_dump_json().encode()
        headers = {"Content-Type": "application/json", **signed_headers(self.sim.secret, body)}
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS)
        try:
            response = await self.client.post(send.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            self.sim.note_attempt(send, None, repr(error))
            return False
        ok = response.is_success
        self.sim.note_attempt(send, response.status_code, None if ok else response.text[:300])
        if response.status_code == 401:
            log.warning(
                "callback refused as unsigned: do both sides share the secret?",
                url=send.url,
                event_id=send.callback.event_id,
            )
        return ok

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()
            self.client = None


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("devtools", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )


def render_page(sim: Simulator, order_id: str) -> HTMLResponse:
    """The hosted page: the order with its buttons, or its outcome, or not found."""
    template = _templates().get_template("gateway_page.html")
    state = sim.order_state(order_id)
    if state is None:
        return HTMLResponse(template.render(order=None, order_id=order_id), status_code=404)
    order, outcome = state
    html = template.render(
        order=order,
        order_id=order_id,
        amount=money_vnd(order.amount_vnd, "đồng"),
        expires=order.expires_at.astimezone(VIETNAM_TZ).strftime("%H:%M ngày %d/%m/%Y"),
        outcome=outcome,
        action=quote(order_id, safe=""),  # relative to /pay/: works behind any host name
        return_url=return_to(order, outcome.status) if outcome else None,
    )
    return HTMLResponse(html)


def signed_path(request: Request) -> str:
    """What a GET is signed over: its path, and its query string if any."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def create_app(sim: Simulator) -> FastAPI:
    sender = CallbackSender(sim)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for callbacks, url in sim.undelivered():
            sender.schedule(callbacks, url, sim.config)
        yield
        await sender.close()

    app = FastAPI(title="motcua payment gateway simulator", lifespan=lifespan)
    _install_errors(app)
    _install_protocol(app, sim)
    _install_page(app, sim, sender)
    _install_controls(app, sim)
    return app


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(BadSignature)
    async def bad_signature(request: Request, error: BadSignature) -> JSONResponse:
        log.warning("request refused", path=request.url.path, reason=str(error))
        return _error(401, str(error))

    @app.exception_handler(Conflict)
    async def conflict(request: Request, error: Conflict) -> JSONResponse:
        return _error(409, str(error))

    @app.exception_handler(ValidationError)
    async def invalid(request: Request, error: ValidationError) -> JSONResponse:
        return _error(422, "invalid body", detail=json.loads(error.json(include_url=False)))


def _install_protocol(app: FastAPI, sim: Simulator) -> None:
    async def signed_body(request: Request) -> bytes:
        body = await request.body()
        sim.check_signature(request.headers, body)
        return body

    @app.post("/v1/orders", status_code=201)
    async def create_order(request: Request) -> dict[str, str]:
        order = Order.model_validate_json(await signed_body(request))
        return {"order_id": order.order_id, "pay_url": sim.create_order(order)}

    @app.post("/v1/refunds")
    async def refund(request: Request) -> RefundOutcome:
        return sim.refund(RefundRequest.model_validate_json(await signed_body(request)))

    @app.get("/v1/settlements/{day}")
    async def settlement(day: str, request: Request) -> Response:
        sim.check_signature(request.headers, signed_path(request).encode())
        try:
            when = parse_day(day)
        except ValueError as error:
            return _error(422, str(error))
        return Response(settlement_csv(sim.settlement(when)), media_type="text/csv")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


def _install_page(app: FastAPI, sim: Simulator, sender: CallbackSender) -> None:
    def decide(order_id: str, approve: bool) -> Response:
        decision = sim.decide(order_id, approve)
        if decision is None:
            return render_page(sim, order_id)
        transaction = decision.transaction
        if decision.new and not transaction.callbacks_dropped:
            sender.schedule(transaction.callbacks, decision.order.callback_url, decision.config)
        return RedirectResponse(return_to(decision.order, transaction.status), status_code=303)

    @app.get("/pay/{order_id}", response_class=HTMLResponse)
    async def page(order_id: str) -> HTMLResponse:
        return render_page(sim, order_id)

    # async: the callbacks are sent by tasks of this event loop
    @app.post("/pay/{order_id}/approve")
    async def approve(order_id: str) -> Response:
        return decide(order_id, approve=True)

    @app.post("/pay/{order_id}/decline")
    async def decline(order_id: str) -> Response:
        return decide(order_id, approve=False)


def _install_controls(app: FastAPI, sim: Simulator) -> None:
    @app.get("/sim/config")
    async def get_config() -> SimConfig:
        return sim.config

    @app.put("/sim/config")
    async def put_config(update: ConfigUpdate) -> SimConfig:
        return sim.update_config(update)

    @app.post("/sim/settlement-adjustments", status_code=201, response_model=None)
    async def adjust(adjustment: Adjustment) -> Adjustment | JSONResponse:
        if not sim.adjust(adjustment):
            return _error(404, f"unknown transaction {adjustment.transaction_id}")
        return adjustment

    @app.get("/sim/orders/{order_id}", response_model=None)
    async def order(order_id: str) -> dict[str, Any] | JSONResponse:
        view = sim.order_view(order_id)
        return view if view is not None else _error(404, f"unknown order {order_id}")

    @app.get("/sim/callbacks")
    async def callbacks() -> list[dict[str, Any]]:
        return sim.delivery_views()


def main() -> None:
    settings, payment = Settings(), PaymentSettings()
    configure_logging(settings.log_level, service="gateway-sim")
    config = SimConfig(
        duplicates=payment.gateway_sim_duplicates,
        delay_seconds=payment.gateway_sim_delay_seconds,
        shuffle=payment.gateway_sim_shuffle,
    )
    sim = Simulator(
        payment.payment_gateway_secret.get_secret_value(),
        settings.var_dir / "gateway-sim",
        config=config,
        clock=make_clock(settings.clock_file),
        port=payment.gateway_sim_port,
        tolerance=payment.payment_signature_tolerance_seconds,
    )
    uvicorn.run(
        create_app(sim),
        host="127.0.0.1",
        port=payment.gateway_sim_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
