"""A handler that loses an optimistic-concurrency race is decided again, not dead-lettered."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from contracts.envelope import Envelope
from contracts.events import DossierSubmitted
from motcua.runtime.handlers import Handlers
from motcua.runtime.store import Store, store_env
from motcua.runtime.unit_of_work import UnitOfWork
from tests.support.ledger import contract_record, offline_consumer
from tests.unit.test_tracing import submitted


def make_store(folder: Path) -> tuple[Application[Any], Store]:
    """The store and the application that owns its connections (keep both alive)."""
    app: Application[Any] = Application(store_env(None, str(folder), "t"))
    return app, Store(app.recorder)  # type: ignore[arg-type]


def test_a_lost_race_is_applied_again_with_its_position(tmp_path: Path) -> None:
    app, store = make_store(tmp_path)
    attempts: list[int] = []

    def lose_the_race_twice(event: Envelope, uow: UnitOfWork) -> None:
        attempts.append(1)
        if len(attempts) < 3:  # the unit of work, positions included, is rolled back
            raise IntegrityError("another writer saved this aggregate first")
        # the third time the handler finds nothing to change and saves nothing

    handlers = Handlers({DossierSubmitted: lose_the_race_twice})
    consumer = offline_consumer(app, store, handlers, dlq_producer=MagicMock())
    event = submitted(tmp_path / "intake")

    consumer.apply_in_store([contract_record(event, 7, position=5, topic="x")])

    assert len(attempts) == 3
    row = store.read_one("SELECT next_offset FROM {consumer_offsets} WHERE consumer = 't'")
    assert row == {"next_offset": 8}
