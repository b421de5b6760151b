"""Notify's HTTP API: the citizen's portal inbox (N-3) and the operators' notice list."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from motcua.web.auth import CallerDep
from motcua.web.http import ERROR_RESPONSES, Limit, Offset
from services.notify.application import NotifyApplication
from services.notify.schemas import InboxItem, NoticeRow, Unread


def get_application(request: Request) -> NotifyApplication:
    app: NotifyApplication = request.app.state.notify
    return app


NotifyDep = Annotated[NotifyApplication, Depends(get_application)]
router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@router.get("/inbox", tags=["inbox"])
def inbox(
    notify: NotifyDep,
    caller: CallerDep,
    unread: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[InboxItem]:
    """The citizen's messages, newest first (what the portal shows at login)."""
    return [InboxItem.model_validate(r) for r in notify.inbox(caller, unread, limit, offset)]


@router.get("/inbox/unread-count", tags=["inbox"])
def unread_count(notify: NotifyDep, caller: CallerDep) -> Unread:
    """How many messages the citizen has not read."""
    return Unread(unread=notify.unread(caller))


@router.post("/inbox/{notice_id}/read", status_code=204, tags=["inbox"])
def mark_read(notify: NotifyDep, caller: CallerDep, notice_id: UUID) -> None:
    """Mark one message as read."""
    notify.mark_read(caller, notice_id)


@router.get("/notices", tags=["operators"])
def notices(
    notify: NotifyDep,
    caller: CallerDep,
    status: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[NoticeRow]:
    """Every notice by status (e.g. ``failed``), for operators."""
    return [NoticeRow.model_validate(r) for r in notify.notices(caller, status, limit, offset)]


@router.post("/notices/{notice_id}/resend", status_code=204, tags=["operators"])
def resend(notify: NotifyDep, caller: CallerDep, notice_id: UUID) -> None:
    """Give a failed notice a new round of delivery attempts."""
    notify.resend(caller, notice_id)
