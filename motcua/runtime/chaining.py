"""Links a producer's contract events into their dossiers' strands (see ``contracts/chain.py``).

The link of an event depends only on the events its producer published before it for
the same dossier, in store order. The relay keeps each strand's head in the store
(``chain_heads``), written in the transaction that records the relay's position: a
batch published again after a crash is linked again from the same heads, so it is
byte-for-byte the same messages. ``motcua republish`` links everything again from the
first event and arrives at the same heads.

This module owns ``chain_heads``: the relay's heads are loaded (``load_heads``) and saved
(``Chainer.save``) here, and the audit reads a strand's recorded end here
(``chain_head``). The table is a step of ``migrations.py``, created when the store is
opened (before, the first save created it, so a store whose relay never published had
none and the audit created it to read nothing).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from uuid import UUID

from contracts.chain import Head, event_hash
from contracts.events import Envelope, encode
from motcua.runtime.store import Store, Tx, Write


class Chainer:
    """Numbers and links the events of one producer; remembers the heads it moved."""

    def __init__(self, producer: str, heads: dict[UUID, Head] | None = None) -> None:
        self.producer = producer
        self.heads: dict[UUID, Head] = heads or {}
        self.moved: set[UUID] = set()

    def link(self, event: Envelope) -> tuple[Envelope, bytes]:
        """The event with its ``chain_seq`` and ``prev_hash``, and its encoded message."""
        head = self.heads.get(event.dossier_id)
        linked = event.model_copy(
            update={
                "chain_seq": (head.seq if head else 0) + 1,
                "prev_hash": head.hash if head else None,
            }
        )
        payload = encode(linked)
        self.heads[event.dossier_id] = Head(linked.chain_seq, event_hash(json.loads(payload)))
        self.moved.add(event.dossier_id)
        return linked, payload

    def save(self) -> Write:
        """The upsert of every head moved since the last ``save``."""
        rows = [(self.producer, str(d), self.heads[d].seq, self.heads[d].hash) for d in self.moved]
        self.moved = set()

        def write(tx: Tx) -> None:
            for row in rows:
                tx.execute(
                    "INSERT INTO {chain_heads} (producer, dossier_id, seq, hash) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (producer, dossier_id) "
                    "DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                    row,
                )

        return write


def load_heads(store: Store, producer: str, dossier_ids: Iterable[UUID]) -> dict[UUID, Head]:
    """The recorded heads of ``producer``'s strands for ``dossier_ids``."""
    wanted = sorted({str(d) for d in dossier_ids})
    heads: dict[UUID, Head] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = store.read(
            f"SELECT dossier_id, seq, hash FROM {{chain_heads}} "
            f"WHERE producer = ? AND dossier_id IN ({marks})",
            (producer, *chunk),
        )
        heads.update({UUID(r["dossier_id"]): Head(int(r["seq"]), r["hash"]) for r in rows})
    return heads


def chain_head(reader: Store | Tx, producer: str, dossier_id: UUID) -> Head | None:
    """The recorded head of ``producer``'s strand of the dossier's chain, if any."""
    rows = reader.read(
        "SELECT seq, hash FROM {chain_heads} WHERE producer = ? AND dossier_id = ?",
        (producer, str(dossier_id)),
    )
    return Head(int(rows[0]["seq"]), rows[0]["hash"]) if rows else None
