"""Events published by postal: a result sent to the applicant by post (O-4)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Envelope


class ShipmentOrdered(Envelope):
    """The postal operator took the order to carry the dossier's result."""

    type: Literal["ShipmentOrdered"] = "ShipmentOrdered"
    tracking_number: str
    operator: str = Field(description="The postal operator's name")
    ordered_at: AwareDatetime


class ShipmentPickedUp(Envelope):
    type: Literal["ShipmentPickedUp"] = "ShipmentPickedUp"
    tracking_number: str
    at: AwareDatetime = Field(description="When the operator says it happened")


class ShipmentDelivered(Envelope):
    """The applicant received the result: it is returned (W-5)."""

    type: Literal["ShipmentDelivered"] = "ShipmentDelivered"
    tracking_number: str
    at: AwareDatetime = Field(description="When the operator says it happened")
    received_by: str = Field(default="", description="Who signed for it, as the operator says")


class ShipmentReturned(Envelope):
    """The operator could not deliver and brought the result back to the agency."""

    type: Literal["ShipmentReturned"] = "ShipmentReturned"
    tracking_number: str
    at: AwareDatetime = Field(description="When the operator says it happened")
    reason: str = ""
