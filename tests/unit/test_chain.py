"""The dossier chain: linking by each producer, verification by an auditor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts.chain import Head, event_hash, verify
from contracts.workflow import StepClaimed
from motcua.runtime.chaining import Chainer, load_heads
from motcua.runtime.store import Store, store_env
from ops.audit import audit, status_at
from services.stats.application import StatsApplication

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def claimed(dossier: UUID, producer: str, n: int) -> StepClaimed:
    return StepClaimed(
        event_id=uuid4(),
        dossier_id=dossier,
        occurred_at=START + timedelta(minutes=n),
        producer=producer,
        correlation_id="test",
        step_index=n,
        agency_code="000.00.01.H23",
        officer=f"officer-{n}",
        assigned_by="lead",
    )


def strand(producer: str = "workflow", n: int = 5, dossier: UUID | None = None) -> list[Any]:
    """``n`` events of one producer for one dossier, linked, as messages (JSON dicts)."""
    chainer = Chainer(producer)
    dossier = dossier or uuid4()
    return [json.loads(chainer.link(claimed(dossier, producer, i))[1]) for i in range(n)]


def test_linked_events_are_numbered_from_one_and_name_their_predecessor() -> None:
    events = strand(n=3)
    assert [e["chain_seq"] for e in events] == [1, 2, 3]
    assert events[0]["prev_hash"] is None
    assert events[1]["prev_hash"] == event_hash(events[0])
    assert events[2]["prev_hash"] == event_hash(events[1])
    assert verify(events) == []


def test_linking_again_from_the_same_heads_gives_the_same_messages() -> None:
    dossier = uuid4()
    unlinked = [claimed(dossier, "workflow", i) for i in range(4)]
    first, second = Chainer("workflow"), Chainer("workflow")
    assert [first.link(e)[1] for e in unlinked] == [second.link(e)[1] for e in unlinked]
    resumed = Chainer("workflow", {dossier: first.heads[dossier]})
    again = Chainer("workflow")
    for event in unlinked:
        again.link(event)
    extra = claimed(dossier, "workflow", 9)
    assert resumed.link(extra)[1] == again.link(extra)[1]


def test_an_altered_event_is_named() -> None:
    events = strand(n=5)
    events[2] = {**events[2], "officer": "someone else"}
    breaks = verify(events)
    assert [(b.chain_seq, b.event_id) for b in breaks] == [(3, events[2]["event_id"])]
    assert "altered" in breaks[0].problem


def test_a_removed_event_is_named_by_its_number() -> None:
    events = strand(n=5)
    del events[1]
    breaks = verify(events)
    assert [(b.chain_seq, b.problem) for b in breaks] == [(3, "event(s) 2 of workflow missing")]


def test_two_events_claiming_one_number_are_reported() -> None:
    events = strand(n=3)
    forged = {**events[1], "event_id": str(uuid4()), "officer": "forger"}
    breaks = verify([*events, forged])
    assert any(b.problem == "two events claim number 2" for b in breaks)


def test_the_end_of_a_strand_needs_the_stores_head() -> None:
    events = strand(n=4)
    head = Head(4, event_hash(events[-1]))
    altered_last = [*events[:-1], {**events[-1], "officer": "x"}]
    assert verify(altered_last) == []  # nothing follows it: only the head can tell
    assert [b.chain_seq for b in verify(altered_last, {"workflow": head})] == [4]
    missing_last = events[:-1]
    breaks = verify(missing_last, {"workflow": head})
    assert [b.problem for b in breaks] == ["event(s) 4 of workflow missing at the end"]
    assert verify(events, {"workflow": head}) == []


def test_strands_of_several_producers_are_verified_each_on_their_own() -> None:
    dossier = uuid4()
    braid = strand("workflow", 3, dossier) + strand("payment", 2, dossier)
    assert verify(braid) == []
    braid[3] = {**braid[3], "officer": "changed"}  # payment's first event
    breaks = verify(braid)
    assert [(b.producer, b.chain_seq) for b in breaks] == [("payment", 1)]


def test_audit_orders_by_time_and_notes_missing_anchors() -> None:
    events = list(reversed(strand(n=3)))
    record = audit(events, None)
    assert [e["chain_seq"] for e in record.events] == [1, 2, 3]
    assert record.notes
    assert not record.anchored
    assert len(record.as_of(START + timedelta(minutes=1, seconds=30))) == 2


def test_status_at_follows_the_events() -> None:
    events: list[dict[str, Any]] = [
        {"type": "DossierReceived"},
        {"type": "StepStarted", "agency_code": "A", "step_name": "Thẩm định"},
        {"type": "FeeAssessed", "amount_vnd": 50000},
        {"type": "PaymentSucceeded", "amount_vnd": 50000},
    ]
    assert status_at(events[:1]) == {"status": "received", "agency": None, "fees": None}
    assert status_at(events) == {
        "status": "in process",
        "agency": "A (Thẩm định)",
        "fees": "paid 50000 đ",
    }


@pytest.fixture
def app(tmp_path: Any) -> StatsApplication:
    """Any service's store will do; the application must stay alive with it."""
    return StatsApplication(store_env(None, str(tmp_path), "chain"))


def test_heads_saved_by_a_chainer_are_loaded_back(app: StatsApplication) -> None:
    store: Store = app.store
    chainer = Chainer("workflow")
    dossiers = [uuid4() for _ in range(3)]
    for i, dossier in enumerate(dossiers):
        for n in range(i + 1):
            chainer.link(claimed(dossier, "workflow", n))
    store.write(chainer.save())
    loaded = load_heads(store, "workflow", [*dossiers, uuid4()])
    assert loaded == {d: chainer.heads[d] for d in dossiers}
    assert load_heads(store, "payment", dossiers) == {}
