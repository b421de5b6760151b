"""Events published by notify: the outcome of each notice, for the dossier's timeline."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from contracts.envelope import Envelope

NoticeChannelName = Literal["inbox", "email", "sms", "webhook"]


class NoticeDelivered(Envelope):
    """A notice reached its channel (the inbox, the SMTP server, the SMS gateway)."""

    type: Literal["NoticeDelivered"] = "NoticeDelivered"
    notice_id: UUID
    source_event_id: UUID
    kind: str
    channel: NoticeChannelName
    recipient: str
    attempts: int


class NoticeFailed(Envelope):
    """A notice was given up after its attempts; operators can resend it."""

    type: Literal["NoticeFailed"] = "NoticeFailed"
    notice_id: UUID
    source_event_id: UUID
    kind: str
    channel: NoticeChannelName
    recipient: str
    attempts: int
    error: str
