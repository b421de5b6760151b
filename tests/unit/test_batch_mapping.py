"""Mapping a batch of stored events rebuilds each aggregate once, into the same messages.

The workflow's processes here run through three agencies: nearly every one of their
events is published with facts of the process, the case where loading the aggregate
per event made republishing a store quadratic.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from motcua.runtime.chaining import Chainer
from motcua.runtime.mapping import BatchAggregates, Held, contracts_of
from ops.republish import Source
from services.workflow.application import WorkflowApplication
from services.workflow.domain import Process
from services.workflow.to_contract import WorkflowPublisher
from tests.support.apps import make_app
from tests.support.samples import LAND
from tests.unit.test_workflow_results import _received, _to_last_step, _workflow

DOSSIERS = 2


class Loads:
    """Counts the aggregates the repository rebuilds (by id), passing every call on."""

    def __init__(self, app: WorkflowApplication, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ids: list[uuid.UUID] = []
        get = app.repository.get

        def counted(aggregate_id: uuid.UUID, **options: Any) -> Any:
            self.ids.append(aggregate_id)
            return get(aggregate_id, **options)

        monkeypatch.setattr(app.repository, "get", counted)


@pytest.fixture
def workflow(tmp_path: Path) -> Iterator[WorkflowApplication]:
    """A workflow store holding DOSSIERS processes taken through three agencies."""
    client = TestClient(make_app("workflow", tmp_path))  # no lifespan: no broker needed
    for _ in range(DOSSIERS):
        dossier_id, _ = _received(client, LAND)
        _to_last_step(client, dossier_id)
    app = _workflow(client)
    yield app
    app.close()


def _source(app: WorkflowApplication) -> Source:
    return Source("workflow", app, app.store, WorkflowPublisher(app))


def test_republishing_a_store_rebuilds_each_process_once(
    workflow: WorkflowApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = Loads(workflow, monkeypatch)

    published = list(_source(workflow).events())

    per_dossier = {e.dossier_id for _, _, _, e, _ in published}
    assert len(per_dossier) == DOSSIERS
    assert len(published) >= 8 * DOSSIERS  # many events of each process were published
    assert sorted(loads.ids) == sorted(per_dossier)  # but each process was rebuilt once


def test_the_batch_gives_the_messages_of_a_load_per_event(workflow: WorkflowApplication) -> None:
    publish = WorkflowPublisher(workflow)
    chainer = Chainer("workflow")
    one_by_one = []
    for n in workflow.recorder.select_notifications(1, 10_000):
        stored = workflow.mapper.to_domain_event(n)
        alone = BatchAggregates(workflow.repository, [stored])  # loads from the store
        if (event := publish(stored, alone)) is not None:
            one_by_one.append(chainer.link(event)[1])

    batched = [payload for *_, payload in _source(workflow).events()]

    assert batched == one_by_one


def test_a_version_missing_from_the_batch_is_loaded_from_the_store(
    workflow: WorkflowApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = [
        workflow.mapper.to_domain_event(n)
        for n in workflow.recorder.select_notifications(1, 10_000)
    ]
    first = stored[0].originator_id
    own = [e for e in stored if e.originator_id == first]
    with_gap = [own[1], own[2], own[4]]  # versions 2, 3 and 5: 4 is missing
    loads = Loads(workflow, monkeypatch)
    aggregates = BatchAggregates(workflow.repository, with_gap)

    versions = [aggregates.at(e).version for e in with_gap]
    earlier = aggregates.at(own[1])

    assert versions == [2, 3, 5]
    assert loads.ids == [first, first, first]  # at 2, again at 5 past the gap, at 2 behind
    process: Process = earlier
    reloaded: Process = workflow.repository.get(first, version=2)
    assert vars(process) == vars(reloaded)


def test_aggregates_held_from_a_batch_serve_the_next_without_a_load(
    workflow: WorkflowApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish = WorkflowPublisher(workflow)
    stored = [
        workflow.mapper.to_domain_event(n)
        for n in workflow.recorder.select_notifications(1, 10_000)
    ]
    first = stored[0].originator_id
    own = [e for e in stored if e.originator_id == first]
    alone = [publish(e, BatchAggregates(workflow.repository, [e])) for e in own]
    loads = Loads(workflow, monkeypatch)
    held = Held()

    batches = [own[:2], own[2:3], own[3:]]  # as a relay keeping up would see them
    batched = [contracts_of(batch, publish, workflow.repository, held) for batch in batches]

    assert loads.ids == [first]  # the first batch loaded it; the next two moved it on
    assert [c for batch in batched for c in batch] == alone


def test_the_least_recently_used_aggregate_goes_first() -> None:
    held = Held(keep=2)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    held.put(a, "a")
    held.put(b, "b")
    held.get(a)  # a was used after b
    held.put(c, "c")

    assert (held.get(a), held.get(b), held.get(c), len(held)) == ("a", None, "c", 2)
