"""The payment gateway seen from motcua: one interface, one signed HTTP protocol.

``Gateway`` is what the payment service needs from any provider: open an order and get
the hosted page's URL, verify a callback, refund, and fetch the day's settlement file.
``HttpGateway`` speaks the *signed-callback protocol* below, which the bundled simulator
(``devtools.gateway_simulator``) also speaks. A real provider with another protocol is
plugged in by writing a class with the same methods and naming it in
``MOTCUA_PAYMENT_GATEWAY_CLASS`` (``package.module:Class``); see the README.

The signed-callback protocol
----------------------------
Every request in either direction is signed (``motcua/core/signatures.py``), with two headers:

* ``X-Gateway-Timestamp``: Unix seconds when the request was signed;
* ``X-Gateway-Signature``: ``v1=`` + hex HMAC-SHA256 over ``<timestamp>.<raw body>``
  (for a GET, the body is the request path with its query string), keyed with the
  merchant's shared secret.

A receiver rejects a signature that does not match, or whose timestamp is further than
``tolerance`` seconds from its clock (a replayed old request). Callbacks are signed when
they are *sent*, so a delayed callback is still fresh; duplicates carry the same
``event_id``.

Merchant → gateway: ``POST /v1/orders`` (``Order``; idempotent by ``order_id``) returns
``{"order_id", "pay_url"}``; ``POST /v1/refunds`` (``RefundRequest``; idempotent by
``refund_id``) returns a ``RefundOutcome``; ``GET /v1/settlements/YYYY-MM-DD`` returns
the settlement CSV of that day (``SETTLEMENT_COLUMNS``, dates in Vietnam time).

Gateway → merchant: ``POST <callback_url>`` with a ``Callback``; the gateway retries
until it gets a 2xx.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import date
from typing import Literal, Protocol

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from motcua.core.imports import import_object
from motcua.core.signatures import HmacScheme

TIMESTAMP_HEADER = "X-Gateway-Timestamp"
SIGNATURE_HEADER = "X-Gateway-Signature"
SETTLEMENT_COLUMNS = (
    "transaction_id",
    "order_id",
    "payment_code",
    "kind",
    "amount_vnd",
    "occurred_at",
)

CallbackStatus = Literal["processing", "succeeded", "failed"]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Order(Message):
    """One payment attempt as the gateway sees it."""

    order_id: str = Field(description="The merchant's attempt id; unique")
    payment_code: str
    amount_vnd: int = Field(gt=0)
    description: str
    return_url: str
    callback_url: str
    expires_at: AwareDatetime


class Callback(Message):
    """The gateway's news about an order; only ``succeeded``/``failed`` are final."""

    event_id: str = Field(description="Same value on every duplicate of this callback")
    order_id: str
    status: CallbackStatus
    transaction_id: str | None = None
    amount_vnd: int = Field(ge=0)
    occurred_at: AwareDatetime
    reason: str | None = None


class RefundRequest(Message):
    refund_id: str
    transaction_id: str
    amount_vnd: int = Field(gt=0)
    reason: str


class RefundOutcome(Message):
    refund_id: str
    status: Literal["succeeded", "failed"]
    transaction_id: str | None = Field(default=None, description="The refund's own id")
    reason: str | None = None


class SettlementRow(Message):
    transaction_id: str
    order_id: str
    payment_code: str
    kind: Literal["payment", "refund"]
    amount_vnd: int
    occurred_at: AwareDatetime


class GatewayError(Exception):
    """The gateway could not be reached or refused the request."""


# The signed-request scheme (motcua/core/signatures.py) under the gateway's header names.
GATEWAY_SIGNATURE = HmacScheme(TIMESTAMP_HEADER, SIGNATURE_HEADER)
signed_headers = GATEWAY_SIGNATURE.headers
verify = GATEWAY_SIGNATURE.verify


def parse_settlement(text: str) -> list[SettlementRow]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != SETTLEMENT_COLUMNS:
        raise GatewayError(f"settlement file has columns {reader.fieldnames}")
    return [SettlementRow.model_validate(row) for row in reader]


def settlement_csv(rows: list[SettlementRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SETTLEMENT_COLUMNS)
    for r in rows:
        writer.writerow(
            [r.transaction_id, r.order_id, r.payment_code, r.kind, r.amount_vnd, r.occurred_at]
        )
    return out.getvalue()


class Gateway(Protocol):
    """What the payment service needs from a payment provider."""

    def create_order(self, order: Order) -> str:
        """Register the order; return the URL of the hosted payment page."""
        ...

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> Callback:
        """The callback, if authentic and fresh; else raise ``BadSignature``."""
        ...

    def refund(self, request: RefundRequest) -> RefundOutcome:
        """Ask for a refund (idempotent by ``refund_id``); raise ``GatewayError`` if unsure."""
        ...

    def settlement(self, day: date) -> list[SettlementRow]:
        """The provider's settled transactions of ``day`` (Vietnam time)."""
        ...


class HttpGateway:
    """The signed-callback protocol over HTTP (the simulator, or a provider speaking it)."""

    def __init__(
        self, base_url: str, secret: str, *, tolerance: float = 300.0, timeout: float = 10.0
    ) -> None:
        self.base_url, self.secret, self.tolerance = base_url.rstrip("/"), secret, tolerance
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout)

    def _post(self, path: str, message: Message) -> httpx.Response:
        body = message.model_dump_json().encode()
        headers = {"Content-Type": "application/json", **signed_headers(self.secret, body)}
        return self._send("POST", path, content=body, headers=headers)

    def _send(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            raise GatewayError(f"gateway unreachable: {error}") from error
        if response.status_code >= 300:
            raise GatewayError(f"gateway answered {response.status_code}: {response.text[:300]}")
        return response

    def create_order(self, order: Order) -> str:
        pay_url: str = self._post("/v1/orders", order).json()["pay_url"]
        return pay_url

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> Callback:
        verify(self.secret, headers, body, tolerance=self.tolerance)
        return Callback.model_validate_json(body)

    def refund(self, request: RefundRequest) -> RefundOutcome:
        return RefundOutcome.model_validate_json(self._post("/v1/refunds", request).content)

    def settlement(self, day: date) -> list[SettlementRow]:
        path = f"/v1/settlements/{day.isoformat()}"
        response = self._send("GET", path, headers=signed_headers(self.secret, path.encode()))
        return parse_settlement(response.text)


def load_gateway(class_path: str | None, base_url: str, secret: str, tolerance: float) -> Gateway:
    """``HttpGateway``, or the class named ``package.module:Class`` (same constructor)."""
    if not class_path:
        return HttpGateway(base_url, secret, tolerance=tolerance)
    gateway: Gateway = import_object(class_path)(base_url, secret, tolerance=tolerance)
    return gateway
