"""Request and response bodies of postal's HTTP API (what /docs shows)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CallbackAnswer(BaseModel):
    outcome: str = Field(description="applied, or ignored (seen before, or older news)")


class ShipmentRow(BaseModel):
    dossier_id: str
    code: str
    sender: str = Field(description="The issuing agency")
    status: str = Field(
        description="requested, ordered, picked_up, delivered, returned, no_address"
    )
    tracking_number: str | None
    attempts: int = Field(description="Failed orders since the last success")
    last_error: str | None
    updated_at: str


class ShipmentHistory(BaseModel):
    code: str
    status: str
    tracking_number: str | None
    steps: list[dict[str, Any]]
