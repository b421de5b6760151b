"""Response bodies of the portal sync's HTTP API (what /docs shows)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class RecordView(BaseModel):
    dossier_id: str
    code: str = Field(description="MaHoSo")
    procedure_id: str
    agency_code: str
    status: str = Field(description="The portal's TrangThaiHoSo of the latest version")
    version: int = Field(description="The latest version of the record here")
    synced_version: int = Field(description="The latest version the portal acknowledged")
    attempts: int = Field(description="Failed sends since the last success")
    last_error: str | None
    changed_at: str = Field(description="When the latest version was made (UTC)")
    synced_at: str | None
    due_at: str = Field(description="When the next send is due (if behind)")
    record: dict[str, Any] = Field(description="The record as sent to the portal")


class Summary(BaseModel):
    dossiers: int
    synced: int = Field(description="Dossiers the portal has in their latest version")
    behind: int
    failing: int = Field(description="Dossiers whose last send failed")
    synced_share: float | None = Field(description="synced / dossiers; null with none")
    oldest_behind_seconds: float


class Resent(BaseModel):
    queued: int


class Difference(BaseModel):
    code: str
    problem: str = Field(description="missing, behind or different")
    version: int
    portal_version: int | None
    fields: list[str] = Field(description="The fields whose values differ")


class Reconciliation(BaseModel):
    checked: int
    differences: list[Difference]
