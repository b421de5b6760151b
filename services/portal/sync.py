"""Sending the dossiers' latest records to the portal, each version at most once.

A loop (``push_due``, run periodically) takes the rows whose record the portal does
not have yet and whose time has come, and for each: leases the row (so no other
instance sends it meanwhile), sends the latest record with the key ``<code>:<version>``,
and records the outcome. Only the latest version is sent: a dossier that changed five
times during an outage costs one call when the portal is back. A failure is retried
with exponential backoff (with jitter, capped at ``portal_retry_max_seconds``) for as
long as it takes; after a crash mid-call the lease ends and the same version is sent
again with the same key, which the portal applies once.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import structlog
from prometheus_client import Counter

from motcua.core.clock import system_clock
from motcua.core.retry import backoff_seconds
from motcua.runtime.store import Tx
from services.portal.adapter import PortalError, PortalRejected
from services.portal.base import PortalBase

log = structlog.get_logger(__name__)

SENDS = Counter(
    "motcua_portal_sends_total",
    "Records sent to the national portal, by outcome (synced, unavailable, rejected)",
    ["outcome"],
)
ROUND = 100  # rows a round takes at most


# Scheduling runs on the real clock: a test's or the demo's business clock
# (``MOTCUA_CLOCK_FILE``) may stand still, and a retry must still come.
now = system_clock


class SyncMixin(PortalBase):
    _stopping: threading.Event
    _senders: ThreadPoolExecutor
    instance: str

    def push_due(self) -> int:
        """Send every due record, a round at a time; return how many were attempted."""
        attempted = 0
        while not self._stopping.is_set():
            rows = self.store.read(
                "SELECT dossier_id, due_at FROM {portal_records} "
                "WHERE synced_version < version AND due_at <= ? ORDER BY due_at LIMIT ?",
                (now().isoformat(), ROUND),
            )
            if not rows:
                break
            list(self._senders.map(self._push, rows))
            attempted += len(rows)
            if len(rows) < ROUND:
                break
        return attempted

    def stop_pushing(self) -> None:
        self._stopping.set()

    def _push(self, row: dict[str, Any]) -> None:
        if self._stopping.is_set():
            return
        leased = self._lease(row["dossier_id"])
        if leased is None:
            return  # another instance took it, or it was sent meanwhile
        version, record = int(leased["version"]), json.loads(leased["record"])
        key = f"{leased['code']}:{version}"
        try:
            self.portal.send({**record, "PhienBan": version}, key)
        except PortalError as error:
            self._failed(row["dossier_id"], int(leased["attempts"]) + 1, error)
            return
        except Exception as error:  # an adapter's bug: logged and retried like an outage
            self._failed(row["dossier_id"], int(leased["attempts"]) + 1, error)
            raise
        self._synced(row["dossier_id"], version)
        SENDS.labels("synced").inc()

    def _lease(self, dossier_id: str) -> dict[str, Any] | None:
        """Take the row for one send, or None if another instance has it."""
        owner, at = f"{self.instance}:{uuid.uuid4().hex}", now()
        until = at + timedelta(seconds=self.settings.portal_send_lease_seconds)
        taken: list[dict[str, Any]] = []

        def lease(tx: Tx) -> None:
            tx.execute(
                "UPDATE {portal_records} SET due_at = ?, lease_owner = ? "
                "WHERE dossier_id = ? AND due_at <= ? AND synced_version < version",
                (until.isoformat(), owner, dossier_id, at.isoformat()),
            )
            tx.execute(
                "SELECT code, version, record, attempts, lease_owner FROM {portal_records} "
                "WHERE dossier_id = ?",
                (dossier_id,),
            )
            row = tx.fetchone()
            if row is not None and row["lease_owner"] == owner:
                taken.append(row)

        self.store.write(lease)
        return taken[0] if taken else None

    def _synced(self, dossier_id: str, version: int) -> None:
        at = now().isoformat()

        def synced(tx: Tx) -> None:
            tx.execute(
                "UPDATE {portal_records} SET synced_version = CASE WHEN synced_version < ? "
                "THEN ? ELSE synced_version END, synced_at = ?, attempts = 0, "
                "last_error = NULL, lease_owner = NULL, due_at = ? WHERE dossier_id = ?",
                (version, version, at, at, dossier_id),
            )

        self.store.write(synced)

    def _failed(self, dossier_id: str, attempts: int, error: Exception) -> None:
        s = self.settings
        backoff = backoff_seconds(
            attempts, s.portal_retry_base_seconds, s.portal_retry_max_seconds, (0.5, 1.0)
        )
        retry_at = now() + timedelta(seconds=backoff)
        outcome = "rejected" if isinstance(error, PortalRejected) else "unavailable"
        log.warning("portal send failed", dossier=dossier_id, attempt=attempts, error=str(error))
        SENDS.labels(outcome).inc()

        def failed(tx: Tx) -> None:
            tx.execute(
                "UPDATE {portal_records} SET attempts = ?, last_error = ?, due_at = ?, "
                "lease_owner = NULL WHERE dossier_id = ?",
                (attempts, str(error)[:500], retry_at.isoformat(), dossier_id),
            )

        self.store.write(failed)
