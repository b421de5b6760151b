"""The postal operator seen from motcua: one interface, one signed HTTP protocol.

``PostalOperator`` is what the postal service needs from an operator (VNPost, Viettel
Post): take a shipment order and give its tracking number, and verify the operator's
tracking callbacks. ``HttpPostalOperator`` speaks the protocol below, which the bundled
simulator (``devtools.postal_simulator``) also speaks; another operator is plugged in by
a class with the same methods, named in ``MOTCUA_POSTAL_OPERATOR_CLASS``.

Both directions are signed with the shared secret (``motcua/core/signatures.py``,
headers ``X-Postal-Timestamp`` and ``X-Postal-Signature``):

* motcua → operator: ``POST /v1/shipments`` with a ``ShipmentOrder``; idempotent by
  ``order_id`` (the dossier's id): sent again, it answers the same tracking number;
* operator → motcua: ``POST <callback_url>`` with a ``TrackingCallback``; the operator
  retries until it gets a 2xx, so a callback may come twice, late or out of order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal, Protocol

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.envelope import PostalAddress
from motcua.core.imports import import_object
from motcua.core.signatures import HmacScheme
from services.postal.settings import PostalSettings

POSTAL_SIGNATURE = HmacScheme("X-Postal-Timestamp", "X-Postal-Signature")
TrackingStatus = Literal["picked_up", "delivered", "returned"]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ShipmentOrder(Message):
    order_id: str = Field(description="The dossier's id; an order sent twice is one order")
    code: str = Field(description="The dossier's code, printed on the parcel")
    sender: str = Field(description="The issuing agency's code")
    address: PostalAddress
    callback_url: str


class Accepted(Message):
    order_id: str
    tracking_number: str


class TrackingCallback(Message):
    event_id: str = Field(description="The operator's id of this tracking event: stable")
    order_id: str
    tracking_number: str
    status: TrackingStatus
    at: AwareDatetime
    received_by: str = ""
    reason: str = ""


class PostalError(Exception):
    """The operator could not be reached or refused the order; retried later."""


class PostalOperator(Protocol):
    def order(self, order: ShipmentOrder) -> str: ...

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> TrackingCallback: ...


class HttpPostalOperator:
    def __init__(self, settings: PostalSettings) -> None:
        self.secret = settings.postal_secret.get_secret_value()
        self.tolerance = settings.postal_signature_tolerance_seconds
        self.client = httpx.Client(
            base_url=settings.postal_url.rstrip("/"), timeout=settings.postal_timeout_seconds
        )

    def order(self, order: ShipmentOrder) -> str:
        body = order.model_dump_json().encode()
        headers = {"Content-Type": "application/json"}
        headers |= POSTAL_SIGNATURE.headers(self.secret, body)
        try:
            response = self.client.post("/v1/shipments", content=body, headers=headers)
        except httpx.HTTPError as error:
            raise PostalError(f"POST /v1/shipments: {error!r}") from None
        if response.status_code >= 300:
            raise PostalError(f"POST /v1/shipments: {response.status_code} {response.text[:200]}")
        return Accepted.model_validate(response.json()).tracking_number

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> TrackingCallback:
        """The callback, if authentic and fresh; else raise ``BadSignature``."""
        POSTAL_SIGNATURE.verify(self.secret, headers, body, tolerance=self.tolerance)
        return TrackingCallback.model_validate(json.loads(body))


def load_operator(settings: PostalSettings) -> PostalOperator:
    if not settings.postal_operator_class:
        return HttpPostalOperator(settings)
    operator: PostalOperator = import_object(settings.postal_operator_class)(settings)
    return operator
