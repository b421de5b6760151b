"""Response bodies of notify's HTTP API (what /docs shows)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel


class InboxItem(BaseModel):
    id: UUID
    dossier_id: UUID
    kind: str
    subject: str
    body: str
    created_at: datetime
    read_at: datetime | None


class Unread(BaseModel):
    unread: int


class NoticeRow(BaseModel):
    id: UUID
    dossier_id: UUID
    kind: str
    channel: str
    recipient: str
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime
