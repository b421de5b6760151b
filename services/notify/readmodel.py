"""Notify's tables beside its events: the dossiers' contact facts and the notice index."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from motcua.runtime.store import Tx, Write
from services.notify.domain import Notice


def create_tables(tx: Tx) -> None:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS {notify_dossiers} (dossier_id TEXT PRIMARY KEY, "
        "facts TEXT NOT NULL)"
    )
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {notify_notices} (
            id TEXT PRIMARY KEY,
            dossier_id TEXT NOT NULL,
            account TEXT,
            kind TEXT NOT NULL,
            channel TEXT NOT NULL,
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            body_hash TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            error TEXT,
            due_at TEXT NOT NULL,
            read_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    tx.execute("CREATE INDEX IF NOT EXISTS notify_due ON {notify_notices} (status, due_at)")
    tx.execute(
        "CREATE INDEX IF NOT EXISTS notify_inbox ON {notify_notices} (account, channel, created_at)"
    )
    tx.execute("CREATE INDEX IF NOT EXISTS notify_flood ON {notify_notices} (recipient, body_hash)")


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def facts_row(dossier_id: UUID, facts: dict[str, Any]) -> Write:
    def upsert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {notify_dossiers} (dossier_id, facts) VALUES (?, ?) "
            "ON CONFLICT (dossier_id) DO UPDATE SET facts = excluded.facts",
            (str(dossier_id), json.dumps(facts, ensure_ascii=False)),
        )

    return upsert


def notice_row(n: Notice, due_at: datetime | None = None) -> Write:
    """The upsert of the notice's row; ``due_at`` overrides the notice's own (a send's
    lease: the row is the delivery loop's queue)."""
    values = (
        str(n.id),
        str(n.dossier_id),
        n.account,
        n.kind,
        n.channel,
        n.recipient,
        n.subject,
        n.body,
        body_hash(n.body),
        n.status,
        n.attempts,
        n.error,
        (due_at or n.due_at).isoformat(),
        n.read_at.isoformat() if n.read_at else None,
        n.created_on.isoformat(),
        n.modified_on.isoformat(),
    )

    def upsert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {notify_notices} (id, dossier_id, account, kind, channel, recipient, "
            "subject, body, body_hash, status, attempts, error, due_at, read_at, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
            "attempts = excluded.attempts, error = excluded.error, due_at = excluded.due_at, "
            "read_at = excluded.read_at, updated_at = excluded.updated_at",
            values,
        )

    return upsert
