"""What the stores promise on a power cut: a command answered 2xx was committed durably.

SQLite: write-ahead log with ``synchronous=FULL``: every commit syncs the log before it
returns (``NORMAL`` would be faster and lose the last commits on a power cut). PostgreSQL:
``synchronous_commit=on``: a commit returns once its WAL record is flushed (``off``
would lose up to three times ``wal_writer_delay`` of commits). The tests' own PostgreSQL
server runs with ``fsync=off`` for speed; production servers must not (a server setting,
outside the services: docs/architecture.md, "Store settings and durability").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from motcua.runtime.settings import Settings
from services.registry import SERVICES, Service, open_store

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


@pytest.mark.parametrize("entry", SERVICES, ids=lambda s: s.name)
def test_every_service_store_commits_durably(
    entry: Service, database_url: str | None, tmp_path: Path
) -> None:
    opened = open_store(entry, Settings(var_dir=tmp_path, database_url=database_url))
    store = opened.store
    if database_url is None:
        mode = store.read_one("PRAGMA journal_mode")
        synchronous = store.read_one("PRAGMA synchronous")
        assert mode is not None
        assert synchronous is not None
        assert next(iter(mode.values())).lower() == "wal"
        assert next(iter(synchronous.values())) == FULL
    else:
        row = store.read_one("SHOW synchronous_commit")
        assert row is not None
        assert next(iter(row.values())) == "on"
    opened.app.close()
