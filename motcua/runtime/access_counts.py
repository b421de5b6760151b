"""How many requests a service answered, per day: the ``access_counts`` table.

One row per (local day, service, route template, method, role, status) with the number
of requests, for the access report of regulation S-4 (``motcua/web/access_log.py``
counts them in memory and adds a batch every few seconds). A batch is added to the rows
(``requests = requests + n``), never written over them, so several instances of a
service sharing one PostgreSQL schema, and the flushes of one instance, add up.

This module owns the table; its shape is step 3 of ``migrations.RUNTIME``, created when
the store is opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from motcua.runtime.store import Store, Tx, Write

CREATE = """
CREATE TABLE IF NOT EXISTS {access_counts} (
    day TEXT NOT NULL,
    service TEXT NOT NULL,
    route TEXT NOT NULL,
    method TEXT NOT NULL,
    role TEXT NOT NULL,
    status INTEGER NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (day, service, route, method, role, status)
)
"""


@dataclass(frozen=True, slots=True)
class AccessKey:
    """What a request is counted under. ``day`` is the local (Vietnam) day, YYYY-MM-DD;
    ``route`` the route's template, never the path; ``role`` the caller's or anonymous."""

    day: str
    service: str
    route: str
    method: str
    role: str
    status: int


def add(counts: Mapping[AccessKey, int]) -> Write:
    """The write adding ``counts`` to the stored ones, in one transaction."""
    rows = [
        (k.day, k.service, k.route, k.method, k.role, k.status, n)
        for k, n in sorted(counts.items(), key=lambda item: _order(item[0]))
        if n
    ]

    def write(tx: Tx) -> None:
        # In a fixed order, so two instances flushing at once take the rows' locks in the
        # same order (PostgreSQL) and never deadlock.
        for row in rows:
            tx.execute(
                "INSERT INTO {access_counts} AS c "
                "(day, service, route, method, role, status, requests) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (day, service, route, method, role, status) "
                "DO UPDATE SET requests = c.requests + excluded.requests",
                row,
            )

    return write


def counts(store: Store | Tx, first: date, last: date) -> list[dict[str, Any]]:
    """The rows of the days from ``first`` to ``last`` included, in a stable order."""
    return store.read(
        "SELECT day, service, route, method, role, status, requests FROM {access_counts} "
        "WHERE day >= ? AND day <= ? ORDER BY day, service, route, method, role, status",
        (first.isoformat(), last.isoformat()),
    )


def _order(key: AccessKey) -> tuple[str, str, str, str, str, int]:
    return (key.day, key.service, key.route, key.method, key.role, key.status)
