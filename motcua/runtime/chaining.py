"""Links a producer's contract events into their dossiers' strands (see ``contracts/chain.py``).

The link of an event depends only on the events its producer published before it for
the same dossier, in store order. The relay keeps each strand's head in the store
(``chain_heads``), written in the transaction that records the relay's position: a
batch published again after a crash is linked again from the same heads, so it is
byte-for-byte the same messages. ``motcua republish`` links everything again from the
first event and arrives at the same heads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from uuid import UUID

from contracts.chain import Head, event_hash
from contracts.events import Envelope, encode
from motcua.runtime.store import Store, Tx, Write

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS {chain_heads} (
    producer TEXT NOT NULL,
    dossier_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (producer, dossier_id)
)
"""


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
            tx.execute(CREATE_TABLE)
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


def create_table(store: Store) -> None:
    store.write(lambda tx: tx.execute(CREATE_TABLE))
