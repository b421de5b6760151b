"""A view's document kept as JSON in a read-model row, decoded to the values it was made of.

A view read from its row must answer byte for byte as the view built from the aggregate,
so its datetimes, dates, UUIDs and decimals must come back as those types, not as the
strings plain JSON would leave. The types are those of the event store's own
transcoder, so a document decodes to what a replay of the aggregate would hold.

A document may hold one entry per event of its aggregate (workflow's timeline history,
intake's lookup timeline); a save extends it with the entries of its own events, the
earlier ones taken from the row (``entries_before``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    StoredEvent,
    UUIDAsHex,
)

from motcua.core.transcoding import DateAsISO
from motcua.runtime.store import Tx

_transcoder = JSONTranscoder()
for _transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
    _transcoder.register(_transcoding)


def encode_document(document: Any) -> str:
    return _transcoder.encode(document).decode("utf8")


def decode_document(text: str) -> Any:
    return _transcoder.decode(text.encode("utf8"))


def entries_before(
    app: Application[UUID],
    tx: Tx,
    table: str,
    field: str,
    dossier_id: UUID,
    version: int,
    entry: Callable[[Any], dict[str, Any]],
) -> list[dict[str, Any]]:
    """The entries of the aggregate's events before ``version`` (one per event).

    From the ``field`` list of the document in the aggregate's row of ``table``
    (``dossier_id``, ``version``, ``document``) when the row has them all; else, for an
    aggregate saved before the table existed (or by an older instance), from its stored
    events read in ``tx``, each made an entry by ``entry``."""
    if version <= 1:
        return []
    tx.execute(
        f"SELECT version, document FROM {{{table}}} WHERE dossier_id = ?", (str(dossier_id),)
    )
    row = tx.fetchone()
    if row is not None and int(row["version"]) >= version - 1:
        entries: list[dict[str, Any]] = decode_document(row["document"])[field]
        return entries[: version - 1]
    key = dossier_id.hex if tx.dialect == "sqlite" else dossier_id
    events = str(app.recorder.events_table_name)  # type: ignore[attr-defined]
    tx.execute(
        f"SELECT originator_version, topic, state FROM {{{events}}} "
        "WHERE originator_id = ? AND originator_version < ? ORDER BY originator_version",
        (key, version),
    )
    return [
        entry(
            app.mapper.to_domain_event(
                StoredEvent(
                    originator_id=dossier_id,
                    originator_version=int(r["originator_version"]),
                    topic=r["topic"],
                    state=bytes(r["state"]),
                )
            )
        )
        for r in tx.fetchall()
    ]


def create_document_table(tx: Tx, table: str, *columns: str) -> None:
    """A view's table: one document per aggregate (``dossier_id``) with the version it
    was made at, and any further ``columns`` (their SQL) to look it up by."""
    extra = "".join(f"{column},\n" for column in columns)
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {{{table}}} (\n"
        "dossier_id TEXT PRIMARY KEY,\n"
        f"{extra}"
        "version INTEGER NOT NULL,\n"
        "document TEXT NOT NULL\n"
        ")"
    )


def upsert_document(
    tx: Tx, table: str, dossier_id: UUID, version: int, document: Any, **columns: Any
) -> None:
    """Insert or replace the aggregate's row of ``table`` (with any further ``columns``);
    an older version never replaces a newer one, so racing writers end on the newest."""
    names = ["dossier_id", *columns, "version", "document"]
    values = [str(dossier_id), *columns.values(), version, encode_document(document)]
    updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
    tx.execute(
        f"INSERT INTO {{{table}}} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT (dossier_id) DO UPDATE SET {updates} "
        f"WHERE {{{table}}}.version < excluded.version",
        tuple(values),
    )
