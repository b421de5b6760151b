"""An answer describes one state of one dossier, never pieces of two.

Each view here is given an aggregate loaded *before* a newer event was saved, as happens
when an officer acts between a request's load and its answer. Everything the view says
must still belong to the state it was given: a second load (of the aggregate or of its
events) would mix in the newer one. Payment's bill view has its test beside the other
bill tests (tests/unit/test_payment.py). The read models' rows are one state each, and
are built from an aggregate in this way when a store older than them is first read.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from motcua.runtime.settings import Settings
from motcua.web.auth import Caller
from services.catalogue.procedures import STEP_ROLES
from services.intake.application import IntakeApplication
from services.intake.domain import Dossier
from services.intake.dossier_view import view_document
from services.intake.main import create_app as create_intake
from services.workflow.application import WorkflowApplication
from services.workflow.domain import Process
from services.workflow.main import create_app as create_workflow
from tests.support.dossiers import BIRTH, officer, submit_birth
from tests.support.ledger import deliver
from tests.support.samples import received


def test_intake_lookup_of_a_dossier_loaded_before_acceptance_shows_it_unaccepted(
    tmp_path: Path,
) -> None:
    client = TestClient(create_intake(Settings(var_dir=tmp_path)))
    app: Any = client.app
    intake: IntakeApplication = app.state.intake
    dossier_id = submit_birth(client)
    loaded_before: Dossier = intake.repository.get(uuid.UUID(dossier_id))
    accepted = client.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer())
    assert accepted.status_code == 200, accepted.text
    loaded_after: Dossier = intake.repository.get(uuid.UUID(dossier_id))

    before = view_document(loaded_before, intake.own_timeline(loaded_before))
    after = view_document(loaded_after, intake.own_timeline(loaded_after))

    assert (before["status"], before["appointment_date"]) == ("submitted", None)
    assert [e["event"] for e in before["timeline"]] == ["Submitted"]
    assert after["status"] == "received"
    assert after["appointment_date"] is not None
    assert [e["event"] for e in after["timeline"]] == ["Submitted", "Received"]


def test_workflow_timeline_history_stops_at_the_state_loaded(tmp_path: Path) -> None:
    client = TestClient(create_workflow(Settings(var_dir=tmp_path)))
    app: Any = client.app
    workflow: WorkflowApplication = app.state.workflow
    event = received(BIRTH)
    deliver(workflow, workflow.store, workflow.handlers(), event, name="workflow")
    loaded_before: Process = workflow.repository.get(event.dossier_id)
    agency = Caller(
        sub="officer-1", role="officer", agency=loaded_before.agency, step_roles=STEP_ROLES
    )
    workflow.claim(agency, event.dossier_id, None, "test")

    before = [h["event"] for h in workflow.history(loaded_before)]
    after = [h["event"] for h in workflow.history(workflow.repository.get(event.dossier_id))]

    assert "StepClaimed" not in before
    assert after == [*before, "StepClaimed"]
