"""The citizen's portal inbox (N-3) and the operators' view of notices.

Reads of the notice rows, and the two commands that go with them: a citizen marks a
message read; an operator gives a failed (or suppressed) notice a fresh set of attempts.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from motcua.core.errors import NotFound
from motcua.web.auth import Caller
from services.notify.base import NotifyBase


class InboxAndOperatorsMixin(NotifyBase):
    """What citizens and operators read and do about notices over HTTP."""

    def inbox(
        self, caller: Caller, unread_only: bool, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        caller.require("citizen")
        where = " AND read_at IS NULL" if unread_only else ""
        return self.store.read(
            "SELECT id, dossier_id, kind, subject, body, created_at, read_at FROM {notify_notices} "
            f"WHERE channel = 'inbox' AND account = ?{where} ORDER BY created_at DESC "
            "LIMIT ? OFFSET ?",
            (caller.sub, limit, offset),
        )

    def unread(self, caller: Caller) -> int:
        caller.require("citizen")
        row = self.store.read_one(
            "SELECT COUNT(*) AS n FROM {notify_notices} WHERE channel = 'inbox' AND account = ? "
            "AND read_at IS NULL",
            (caller.sub,),
        )
        return int(row["n"]) if row else 0

    def mark_read(self, caller: Caller, notice_id: UUID) -> None:
        caller.require("citizen")
        notice = self._notice(notice_id)
        if notice.channel != "inbox" or notice.account != caller.sub:
            raise NotFound("no such message in your inbox")
        if notice.read_at is None:
            notice.mark_read(at=self.clock())
            self._save(notice)

    def notices(
        self, caller: Caller, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        caller.require("admin")
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        return self.store.read(
            "SELECT id, dossier_id, kind, channel, recipient, status, attempts, error, "
            f"created_at, updated_at FROM {{notify_notices}} {where} "
            "ORDER BY updated_at DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

    def resend(self, caller: Caller, notice_id: UUID) -> None:
        """Give a failed (or suppressed) notice a fresh set of attempts."""
        caller.require("admin")
        notice = self._notice(notice_id)
        notice.resend(by=caller.sub, at=self.clock())
        self._save(notice)
