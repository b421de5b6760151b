"""A store snapshot: several reads that see one committed state, on both databases."""

from __future__ import annotations

import uuid
from pathlib import Path

from eventsourcing.application import Application

from motcua.runtime.store import Store, Tx, Write, store_env


def _create(tx: Tx) -> None:
    tx.execute("CREATE TABLE IF NOT EXISTS {snapshot_rows} (id TEXT PRIMARY KEY)")


def _insert(row_id: str) -> Write:
    def write(tx: Tx) -> None:
        tx.execute("INSERT INTO {snapshot_rows} (id) VALUES (?)", (row_id,))

    return write


def _count(tx: Tx) -> int:
    tx.execute("SELECT COUNT(*) AS n FROM {snapshot_rows}")
    row = tx.fetchone()
    assert row is not None
    return int(row["n"])


def test_reads_in_one_snapshot_do_not_see_a_commit_made_between_them(
    database_url: str | None, tmp_path: Path
) -> None:
    app = Application[uuid.UUID](env=store_env(database_url, str(tmp_path), "snapshots"))
    store = Store(app.recorder)  # type: ignore[arg-type]
    store.write(_create, _insert("a"))

    with store.snapshot() as tx:
        first = _count(tx)
        store.write(_insert("b"))  # another connection commits meanwhile
        second = _count(tx)

    assert (first, second) == (1, 1)
    assert store.read_one("SELECT COUNT(*) AS n FROM {snapshot_rows}") == {"n": 2}
    app.close()
