"""The catch-up benchmark's pure parts: the topic a service finds after being down, and
how the bench reads a service's progress from its store and its metrics."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from uuid import UUID

from eventsourcing.application import Application

from bench.catchup import metric_total, remaining, stored_offsets
from bench.history import year_of_messages
from contracts.events import decode
from motcua.runtime.store import Store, store_env


def test_a_topic_without_a_service_s_events_is_the_others_lifecycles_as_published() -> None:
    found = list(year_of_messages(3000, seed=4, left_out={"workflow"}))
    assert len(found) == 3000
    assert all(m.type and dict(m.headers)["producer"] != b"workflow" for m in found)
    positions: dict[str, list[int]] = {}
    for m in found:
        event = decode(m.value)
        assert event is not None
        headers = {k: v.decode() for k, v in m.headers}
        assert headers["type"] == type(event).__name__ == m.type
        assert headers["producer"] == event.producer != "workflow"
        assert m.key == str(event.dossier_id).encode()
        positions.setdefault(event.producer, []).append(int(headers["position"]))
    # Each producer's positions number its messages one by one, as its relay publishes.
    assert {p: list(range(1, len(v) + 1)) for p, v in positions.items()} == positions
    assert set(positions) == {"intake", "payment", "notify"}
    # The very messages the whole pipeline's topic holds of the others, in its order.
    everyone = year_of_messages(3000, seed=4)
    others = [m for m in everyone if dict(m.headers)["producer"] != b"workflow"]
    assert 1000 < len(others) < 3000
    assert found[: len(others)] == others
    kinds = Counter(m.type for m in found)
    assert {"DossierReceived", "PaymentSucceeded", "NoticeDelivered"} <= set(kinds)


def test_what_is_left_to_apply_counts_only_the_filled_topic() -> None:
    ends = {0: 10, 1: 5, 2: 7}
    assert remaining({}, ends) == 22
    assert remaining({0: 10, 1: 2}, ends) == 3 + 7
    # The service's own events appended past the ends are not part of the catch-up.
    assert remaining({0: 14, 1: 5, 2: 7}, ends) == 0


def test_the_service_s_positions_are_read_from_its_store(tmp_path: Path) -> None:
    db = tmp_path / "stats.db"
    assert stored_offsets(db, "stats", "t") == {}  # not created yet
    sqlite3.connect(db).close()
    assert stored_offsets(db, "stats", "t") == {}  # no positions table yet
    app: Application[UUID] = Application(store_env(None, str(tmp_path), "stats"))
    Store(app.recorder)  # type: ignore[arg-type]  # opening it creates the runtime's tables
    app.close()
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO consumer_offsets VALUES (?, ?, ?, ?)",
            [("stats", "t", 0, 12), ("stats", "t", 3, 40), ("stats", "u", 1, 9), ("x", "t", 1, 7)],
        )
    assert stored_offsets(db, "stats", "t") == {0: 12, 3: 40}


def test_a_metric_is_summed_over_its_labels_and_nothing_else() -> None:
    text = "\n".join(
        [
            "# HELP motcua_relay_published_total Stored events published",
            "# TYPE motcua_relay_published_total counter",
            'motcua_relay_published_total{service="payment"} 120.0',
            'motcua_relay_published_total{service="other"} 3.0',
            'motcua_relay_published_created{service="payment"} 1.7e9',
            "motcua_relay_published_total_more 99.0",
        ]
    )
    assert metric_total(text, "motcua_relay_published_total") == 123.0
    assert metric_total(text, "motcua_notices_total") == 0.0
