"""Postal's tables: the addresses applicants gave, and the shipments' queue and index.

``postal_dossiers`` is written by the consumer from ``DossierReceived``: each dossier's
code, and the address if the applicant gave one (needed if the result is issued for
post); ``postal_shipments`` holds each
shipment's state for the operators' list and, while it waits for the operator's
tracking number, when the order is next tried (``due_at``, ``attempts``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from motcua.runtime.store import Tx, Write
from services.postal.domain import Shipment


def create_tables(tx: Tx) -> None:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS {postal_dossiers} (dossier_id TEXT PRIMARY KEY, "
        "code TEXT NOT NULL, address TEXT)"
    )
    tx.execute(
        """
        CREATE TABLE IF NOT EXISTS {postal_shipments} (
            dossier_id TEXT PRIMARY KEY,
            code TEXT NOT NULL,
            sender TEXT NOT NULL,
            status TEXT NOT NULL,
            tracking_number TEXT,
            attempts INTEGER NOT NULL,
            due_at TEXT NOT NULL,
            last_error TEXT,
            updated_at TEXT NOT NULL
        )
        """
    )
    tx.execute("CREATE INDEX IF NOT EXISTS postal_due ON {postal_shipments} (status, due_at)")


def dossier_row(dossier_id: UUID, code: str, address: dict[str, Any] | None) -> Write:
    text = json.dumps(address, ensure_ascii=False) if address is not None else None

    def upsert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {postal_dossiers} (dossier_id, code, address) VALUES (?, ?, ?) "
            "ON CONFLICT (dossier_id) DO NOTHING",
            (str(dossier_id), code, text),
        )

    return upsert


def shipment_row(s: Shipment, at: datetime) -> Write:
    values = (
        str(s.id),
        s.code,
        s.sender,
        s.status,
        s.tracking_number,
        at.isoformat(),
        at.isoformat(),
    )

    def upsert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {postal_shipments} (dossier_id, code, sender, status, tracking_number, "
            "attempts, due_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) "
            "ON CONFLICT (dossier_id) DO UPDATE SET status = excluded.status, "
            "tracking_number = excluded.tracking_number, updated_at = excluded.updated_at",
            values,
        )

    return upsert


def unaddressed_row(dossier_id: UUID, code: str, sender: str, at: datetime) -> Write:
    """A result issued for post to an applicant who gave no address: shown to operators,
    never ordered."""

    def insert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {postal_shipments} (dossier_id, code, sender, status, attempts, due_at, "
            "last_error, updated_at) VALUES (?, ?, ?, 'no_address', 0, ?, ?, ?) "
            "ON CONFLICT (dossier_id) DO NOTHING",
            (
                str(dossier_id),
                code,
                sender,
                at.isoformat(),
                "the applicant gave no delivery address",
                at.isoformat(),
            ),
        )

    return insert
