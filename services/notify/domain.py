"""A notice: one message about one event, to one recipient, on one channel.

Its id is derived from (source event, channel), so an event consumed twice plans the
same notice twice and the second plan fails on the event store's key: at most one
notice per (event, recipient, channel). Each attempt is recorded *before* the send
and its outcome after, so a restart knows what was in flight.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from motcua.core.errors import Conflict
from motcua.core.tracing import TracedAggregate

OPEN = ("pending", "retrying", "sending")


class Notice(TracedAggregate):
    @staticmethod
    def create_id(source_event_id: UUID, channel: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"motcua:notice:{source_event_id}:{channel}")

    @event("Planned")
    def __init__(
        self,
        *,
        source_event_id: UUID,
        channel: str,
        dossier_id: UUID,
        kind: str,
        account: str | None,
        recipient: str,
        subject: str,
        body: str,
        due_at: datetime,
    ) -> None:
        self.source_event_id, self.channel, self.dossier_id = source_event_id, channel, dossier_id
        self.kind, self.account, self.recipient = kind, account, recipient
        self.subject, self.body = subject, body
        self.status, self.attempts, self.due_at = "pending", 0, due_at
        self.error: str | None = None
        self.read_at: datetime | None = None

    @event("AttemptStarted")
    def start_attempt(self, *, at: datetime) -> None:
        if self.status not in OPEN:
            raise NoticeClosed(f"notice is {self.status}")
        self.status, self.attempts = "sending", self.attempts + 1

    @event("Delivered")
    def delivered(self, *, at: datetime) -> None:
        self.status, self.error = "delivered", None

    @event("AttemptFailed")
    def attempt_failed(self, *, error: str, retry_at: datetime) -> None:
        self.status, self.error, self.due_at = "retrying", error, retry_at

    @event("Failed")
    def failed(self, *, error: str) -> None:
        self.status, self.error = "failed", error

    @event("Suppressed")
    def suppress(self, *, reason: str) -> None:
        """Not sent on purpose (e.g. the per-number SMS flood limit)."""
        self.status, self.error = "suppressed", reason

    @event("ResendRequested")
    def resend(self, *, by: str, at: datetime) -> None:
        if self.status not in ("failed", "suppressed"):
            raise NoticeClosed(
                f"only failed or suppressed notices are resent; this one is {self.status}"
            )
        self.status, self.attempts, self.due_at, self.error = "pending", 0, at, None

    @event("Read")
    def mark_read(self, *, at: datetime) -> None:
        if self.read_at is None:
            self.read_at = at


class NoticeClosed(Conflict):
    pass
