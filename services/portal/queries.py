"""What operators see of the sync: the records and their state, a resend, and the
reconciliation of the province's records against what the portal holds."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from prometheus_client import Gauge

from motcua.core.errors import NotFound, Unavailable
from motcua.runtime.store import Tx
from motcua.web.auth import Caller
from services.portal.adapter import PortalError
from services.portal.base import PortalBase
from services.portal.readmodel import decoded
from services.portal.record import differences
from services.portal.sync import now

State = Literal["all", "behind", "failing", "synced"]
Problem = Literal["missing", "behind", "different"]
WHERE: dict[str, str] = {
    "all": "1 = 1",
    "behind": "synced_version < version",
    "failing": "attempts > 0",
    "synced": "synced_version = version",
}
COLUMNS = (
    "dossier_id, code, procedure_id, agency_code, status, version, synced_version, "
    "attempts, last_error, changed_at, synced_at, due_at, record"
)

BEHIND = Gauge(
    "motcua_portal_records_behind", "Dossiers whose latest record the portal does not have yet"
)
FAILING = Gauge("motcua_portal_records_failing", "Dossiers whose last send to the portal failed")
OLDEST = Gauge(
    "motcua_portal_oldest_behind_seconds",
    "How long the oldest change the portal does not have has waited (0 when in step)",
)


class QueriesMixin(PortalBase):
    def records(
        self, caller: Caller, state: State, code: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        caller.require("admin", "inspector")
        where, params = WHERE[state], []
        if code:
            where, params = f"{where} AND code = ?", [code]
        rows = self.store.read(
            f"SELECT {COLUMNS} FROM {{portal_records}} WHERE {where} "
            "ORDER BY changed_at, code LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [decoded(r) for r in rows]

    def summary(self) -> dict[str, Any]:
        row = self.store.read_one(
            "SELECT COUNT(*) AS total, "
            "SUM(CASE WHEN synced_version = version THEN 1 ELSE 0 END) AS synced, "
            "SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) AS failing, "
            "MIN(CASE WHEN synced_version < version THEN changed_at END) AS oldest_behind "
            "FROM {portal_records}"
        )
        assert row is not None
        total, synced = int(row["total"] or 0), int(row["synced"] or 0)
        oldest = row["oldest_behind"]
        waited = (now() - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0.0
        return {
            "dossiers": total,
            "synced": synced,
            "behind": total - synced,
            "failing": int(row["failing"] or 0),
            "synced_share": round(synced / total, 4) if total else None,
            "oldest_behind_seconds": round(max(waited, 0.0), 3),
        }

    def measure(self) -> None:
        """The gauges, before each scrape of ``/metrics``."""
        figures = self.summary()
        BEHIND.set(figures["behind"])
        FAILING.set(figures["failing"])
        OLDEST.set(figures["oldest_behind_seconds"])

    def resend(self, caller: Caller, code: str | None) -> int:
        """Send the latest record again now (one dossier, or every failing one); the
        same key as before, so a portal that has it applies nothing twice."""
        caller.require("admin")
        at = now().isoformat()
        changed: list[int] = []

        def queue(tx: Tx) -> None:
            where, params = ("code = ?", [code]) if code else ("attempts > 0", [])
            tx.execute(f"SELECT COUNT(*) AS n FROM {{portal_records}} WHERE {where}", params)
            found = tx.fetchone()
            changed.append(int(found["n"]) if found else 0)
            tx.execute(
                "UPDATE {portal_records} SET synced_version = CASE WHEN synced_version = "
                "version THEN version - 1 ELSE synced_version END, attempts = 0, "
                f"due_at = ?, lease_owner = NULL WHERE {where}",
                (at, *params),
            )

        self.store.write(queue)
        if code and not changed[0]:
            raise NotFound(f"no dossier {code} is synchronised with the portal")
        return changed[0]

    def reconcile(self, caller: Caller, page: int = 500) -> dict[str, Any]:
        """Every dossier of ours against the portal's record of it: missing there,
        behind (an older version) or different (the same version, other values)."""
        caller.require("admin", "inspector")
        found: list[dict[str, Any]] = []
        checked, offset = 0, 0
        while True:
            rows = self.store.read(
                "SELECT code, version, record FROM {portal_records} ORDER BY code LIMIT ? OFFSET ?",
                (page, offset),
            )
            for row in rows:
                found.extend(self._compare(row))
            checked += len(rows)
            offset += page
            if len(rows) < page:
                break
        return {"checked": checked, "differences": found}

    def _compare(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        ours, version = json.loads(row["record"]), int(row["version"])
        try:
            theirs = self.portal.fetch(row["code"])
        except PortalError as error:
            raise Unavailable(f"the national portal cannot be read: {error}") from None
        problem: Problem | None = None
        fields: list[str] = []
        held = int(theirs.get("PhienBan", 0)) if theirs else None
        if theirs is None:
            problem = "missing"
        elif held is not None and held < version:
            problem, fields = "behind", differences(ours, theirs)
        else:
            fields = differences(ours, theirs)
            problem = "different" if fields else None
        if problem is None:
            return []
        return [
            {
                "code": row["code"],
                "problem": problem,
                "version": version,
                "portal_version": held,
                "fields": fields,
            }
        ]
