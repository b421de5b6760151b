"""Notify's delivery: sending due notices, once, in rounds, on a pool of senders.

A loop (``deliver_due``, run periodically) takes the notices whose time has come and
sends them: record the attempt and lease the notice, send, record the outcome. Failures
are retried with exponential backoff and jitter, from the store, so restarts lose
nothing; an SMS repeated too often to one number is suppressed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError

from motcua.core import metrics
from motcua.core.retry import backoff_seconds
from services.notify.base import NotifyBase
from services.notify.channels import ChannelError
from services.notify.domain import Notice, NoticeClosed
from services.notify.readmodel import body_hash

log = structlog.get_logger(__name__)

# Rounds of due notices one call of ``deliver_due`` takes at most, one after the other.
DELIVERY_ROUNDS = 20


class DeliveryMixin(NotifyBase):
    """Sends the due notices through their channels and records each outcome."""

    _stopping: threading.Event
    _senders: ThreadPoolExecutor

    def deliver_due(self, limit: int = 50) -> int:
        """Send every notice whose time has come, ``limit`` a round; return how many were
        attempted.

        A full round is followed by the next at once: waiting the poll period after each
        one capped delivery at ``limit`` per period, below what a busy day plans (ten
        dossiers a second plan about seventy e-mails and SMS). At most
        ``DELIVERY_ROUNDS`` rounds a call: a row that stayed due without being sent (its
        notice taken by another loop before this one could lease it) is read again, and
        must not keep the loop from its period for ever.
        """
        attempted = 0
        for _round in range(DELIVERY_ROUNDS):
            if self._stopping.is_set():
                break
            rows = self.store.read(
                "SELECT id, recipient FROM {notify_notices} "
                "WHERE status IN ('pending', 'retrying', 'sending') "
                "AND due_at <= ? ORDER BY due_at LIMIT ?",
                (self.clock().isoformat(), limit),
            )
            self._deliver_round(rows)
            attempted += len(rows)
            if len(rows) < limit:
                break
        return attempted

    def _deliver_round(self, rows: list[dict[str, Any]]) -> None:
        """The round's notices, each recipient's one after the other in their order, the
        recipients side by side on ``notify_senders`` threads.

        A send waits on the mail server or the SMS gateway, not on this machine: one at a
        time, a round of fifty took long enough that a busy day's notices queued for
        minutes. One recipient's stay in order, so the SMS flood limit counts what the
        number was sent before each send. The round ends when every send of it has:
        an error is logged and raised only then, so no next round starts while notices
        of this one are still in flight.
        """
        by_recipient: dict[str, list[UUID]] = {}
        for row in rows:
            by_recipient.setdefault(row["recipient"], []).append(UUID(row["id"]))
        queues = list(by_recipient.values())
        if len(queues) <= 1 or self.settings.notify_senders <= 1:
            for queue in queues:
                self._deliver_each(queue)
            return
        futures = [self._senders.submit(self._deliver_each, queue) for queue in queues]
        wait(futures)
        errors = [e for e in (f.exception() for f in futures) if e is not None]
        for error in errors[1:]:  # the first is raised, and logged by the delivery loop
            log.error("notice delivery failed", error=repr(error))
        if errors:
            raise errors[0]

    def _deliver_each(self, notice_ids: list[UUID]) -> None:
        for notice_id in notice_ids:
            if self._stopping.is_set():
                return
            self._deliver(notice_id)

    def stop_delivering(self) -> None:
        """The service is stopping: no new send starts (those under way finish)."""
        self._stopping.set()

    def _deliver(self, notice_id: UUID) -> None:
        notice = self._notice(notice_id)
        now = self.clock()
        if notice.channel == "sms" and self._sms_flood(notice, now):
            notice.suppress(
                reason=f"more than {self.settings.sms_limit_per_hour} identical SMS "
                "to this number in the last hour"
            )
            self._save(notice)
            return
        try:
            notice.start_attempt(at=now)
            # Recorded before the send, and not due again before its lease ends: another
            # delivery loop leaves it alone meanwhile; after a crash it is sent again.
            lease = timedelta(seconds=self.settings.notify_send_lease_seconds)
            self._save(notice, due_at=now + lease)
        except (NoticeClosed, IntegrityError):
            return  # another delivery loop took it
        try:
            self.channels[notice.channel].send(
                key=str(notice.id),
                recipient=notice.recipient,
                subject=notice.subject,
                body=notice.body,
            )
        except ChannelError as error:
            self._failed_attempt(notice, str(error))
            return
        notice.delivered(at=self.clock())
        self._save(notice)
        metrics.NOTICES.labels(notice.channel, "delivered").inc()

    def _failed_attempt(self, notice: Notice, error: str) -> None:
        log.warning(
            "notice attempt failed",
            notice=str(notice.id),
            channel=notice.channel,
            attempt=notice.attempts,
            error=error,
        )
        s = self.settings
        outcome = "failed" if notice.attempts >= s.notify_max_attempts else "retry"
        if outcome == "failed":
            notice.failed(error=error)
        else:
            backoff = backoff_seconds(
                notice.attempts, s.notify_retry_base_seconds, s.notify_retry_max_seconds
            )
            retry_at = self.clock() + timedelta(seconds=backoff)
            notice.attempt_failed(error=error, retry_at=retry_at)
        self._save(notice)
        metrics.NOTICES.labels(notice.channel, outcome).inc()

    def _sms_flood(self, notice: Notice, now: datetime) -> bool:
        row = self.store.read_one(
            "SELECT COUNT(*) AS n FROM {notify_notices} WHERE channel = 'sms' AND recipient = ? "
            "AND body_hash = ? AND status = 'delivered' AND updated_at >= ?",
            (notice.recipient, body_hash(notice.body), (now - timedelta(hours=1)).isoformat()),
        )
        return row is not None and int(row["n"]) >= self.settings.sms_limit_per_hour
