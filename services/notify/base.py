"""What the features of ``NotifyApplication`` share: its settings, store and clock, and
loading and saving a notice with its row.

Planning (the consumer policy), delivery and the inbox and operators' queries are mixins
of this one class, so that each lives in a module of its own while they all remain the
one eventsourcing ``Application`` whose saves write the notice's row in the same
transaction. ``NotifyApplication.__init__`` (services/notify/application.py) sets the
attributes declared here.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from motcua.core.clock import Clock
from motcua.core.errors import NotFound
from motcua.runtime.store import Store
from services.notify.channels import Channel
from services.notify.domain import Notice
from services.notify.readmodel import notice_row
from services.notify.settings import NotifySettings


class NotifyBase(Application[UUID]):
    """The state and helpers notify's features have in common."""

    settings: NotifySettings
    channels: dict[str, Channel]
    clock: Clock
    store: Store

    def _notice(self, notice_id: UUID) -> Notice:
        try:
            notice: Notice = self.repository.get(notice_id)
        except AggregateNotFoundError:
            raise NotFound("no such notice") from None
        return notice

    def _save(self, notice: Notice, due_at: datetime | None = None) -> None:
        """The notice and its row; ``due_at``, when given, is the row's (a lease)."""
        self.save(notice, writes=[notice_row(notice, due_at)])
