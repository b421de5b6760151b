"""A handler that loses an optimistic-concurrency race is decided again, not dead-lettered."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

from aiokafka import ConsumerRecord
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from motcua.consumer import Delivery
from motcua.store import Store, Tx, store_env
from tests.ledger import offline_consumer


def make_store(folder: Path) -> tuple[Application[Any], Store]:
    """The store and the application that owns its connections (keep both alive)."""
    app: Application[Any] = Application(store_env(None, str(folder), "t"))
    return app, Store(app.recorder)  # type: ignore[arg-type]


def test_a_lost_race_is_applied_again_with_its_position(tmp_path: Path) -> None:
    _app, store = make_store(tmp_path)
    attempts: list[int] = []

    def lose_the_race(tx: Tx) -> None:
        raise IntegrityError("another writer saved this aggregate first")

    def handler(delivery: Delivery) -> None:
        attempts.append(1)
        if len(attempts) < 3:  # the save with our tracking write is rolled back
            store.write(*delivery.writes, lose_the_race)
        # the third time the handler finds nothing to change and saves nothing

    consumer = offline_consumer(store, handler, dlq_producer=MagicMock())
    record = ConsumerRecord(
        topic="x", partition=0, offset=7, timestamp=0, timestamp_type=0, key=b"k",
        value=b"{}", checksum=None, serialized_key_size=1, serialized_value_size=2,
        headers=[("producer", b"p"), ("position", b"5")],
    )  # fmt: skip
    delivery = Delivery("t", record, event=MagicMock())

    consumer._apply_in_store(delivery)

    assert len(attempts) == 3
    row = store.read_one("SELECT next_offset FROM {consumer_offsets} WHERE consumer = 't'")
    assert row == {"next_offset": 8}
    assert consumer.applied == 1
