"""Who may act on a step (services/workflow/authority.py): the officers holding the
current step's role at its agency; assigning also the agency's leader.

Workflow runs in-process on its real store; a birth registration reaches it as the
``DossierReceived`` its consumer would apply. Its four steps are all at the commune:
tiep_nhan (mot_cua) → tham_dinh_ghi_so (chuyen_vien) → ky_giay_khai_sinh (lanh_dao) →
tra_ket_qua (mot_cua). Officers act over HTTP with one or more step roles each.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.workflow import DossierApproved, DossierRejected, StepClaimed, StepCompleted
from motcua.runtime.mapping import BatchAggregates
from motcua.runtime.settings import Settings
from services.workflow.application import WorkflowApplication
from services.workflow.domain import Process
from services.workflow.main import create_app
from services.workflow.to_contract import WorkflowPublisher
from tests.support.dossiers import BIRTH, BIRTH_AGENCY, officer
from tests.support.ledger import deliver
from tests.support.samples import received

ONE_STOP = officer(sub="mc-1", step_roles=("mot_cua",))
SPECIALIST = officer(sub="cv-1", step_roles=("chuyen_vien",))
LEADER = officer(sub="ld-1", step_roles=("lanh_dao",))
NO_ROLES = officer(sub="x-1", step_roles=())


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(Settings(var_dir=tmp_path)))  # no lifespan: no broker


def _workflow(client: TestClient) -> WorkflowApplication:
    app: Any = client.app
    workflow: WorkflowApplication = app.state.workflow
    return workflow


def _received(client: TestClient) -> str:
    event = received(BIRTH)
    workflow = _workflow(client)
    deliver(workflow, workflow.store, workflow.handlers(), event, name="workflow")
    return str(event.dossier_id)


def _act(client: TestClient, who: dict[str, str], dossier_id: str, action: str, **body: Any) -> Any:
    return client.post(f"/v1/dossiers/{dossier_id}/{action}", headers=who, json=body)


def _process(client: TestClient, dossier_id: str) -> Process:
    process: Process = _workflow(client).repository.get(uuid.UUID(dossier_id))
    return process


def _at(client: TestClient, step_id: str) -> str:
    """A birth registration whose current step is ``step_id``, each earlier step
    completed by the officer holding its role."""
    dossier_id = _received(client)
    by_role = {"mot_cua": ONE_STOP, "chuyen_vien": SPECIALIST, "lanh_dao": LEADER}
    while (step := _process(client, dossier_id).step)["id"] != step_id:
        done = _act(client, by_role[step["role"]], dossier_id, "complete-step", notes="Xong")
        assert done.status_code == 204, done.text
    return dossier_id


def _refused(response: Any, needed: str, yours: str) -> str:
    assert response.status_code == 403, response.text
    message: str = response.json()["error"]["message"]
    assert f"you need the step role {needed};" in message, message
    assert message.endswith(f"your step roles: {yours}"), message
    return message


# -- complete ---------------------------------------------------------------------------


def test_the_one_stop_officer_completes_the_reception_step(client: TestClient) -> None:
    dossier_id = _received(client)

    done = _act(client, ONE_STOP, dossier_id, "complete-step", notes="Đủ hồ sơ")

    assert done.status_code == 204, done.text
    assert _process(client, dossier_id).step["id"] == "tham_dinh_ghi_so"


def test_a_specialist_may_not_complete_the_one_stop_step(client: TestClient) -> None:
    dossier_id = _received(client)

    refused = _act(client, SPECIALIST, dossier_id, "complete-step", notes="Đủ hồ sơ")

    message = _refused(refused, "mot_cua", "chuyen_vien")
    assert "complete step tiep_nhan" in message
    assert _process(client, dossier_id).step["status"] == "started"


def test_the_leader_may_not_complete_the_specialists_step(client: TestClient) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")

    refused = _act(client, LEADER, dossier_id, "complete-step", notes="Đã thẩm định")

    _refused(refused, "chuyen_vien", "lanh_dao")
    done = _act(client, SPECIALIST, dossier_id, "complete-step", notes="Đã thẩm định")
    assert done.status_code == 204, done.text


def test_an_officer_with_several_roles_acts_on_each_of_their_steps(client: TestClient) -> None:
    dossier_id = _received(client)
    both = officer(sub="mc-cv", step_roles=("mot_cua", "chuyen_vien"))

    first = _act(client, both, dossier_id, "complete-step")
    second = _act(client, both, dossier_id, "complete-step")
    third = _act(client, both, dossier_id, "complete-step")

    assert (first.status_code, second.status_code) == (204, 204)
    _refused(third, "lanh_dao", "mot_cua, chuyen_vien")


def test_a_token_without_step_roles_may_do_no_step(client: TestClient) -> None:
    dossier_id = _received(client)

    refused = [
        _act(client, NO_ROLES, dossier_id, "claim"),
        _act(client, NO_ROLES, dossier_id, "complete-step"),
        _act(client, NO_ROLES, dossier_id, "approve"),
        _act(client, NO_ROLES, dossier_id, "reject", reason="Không đủ điều kiện"),
    ]

    for response in refused:
        _refused(response, "mot_cua", "none (the token carries no step_roles)")
    assert _process(client, dossier_id).version == 2  # Started, StepStarted: nothing more


def test_the_right_role_at_another_agency_is_still_refused_for_the_agency(
    client: TestClient,
) -> None:
    dossier_id = _received(client)
    elsewhere = officer("000.00.31.H23", sub="mc-9", step_roles=("mot_cua",))

    refused = _act(client, elsewhere, dossier_id, "complete-step")

    assert refused.status_code == 404  # an agency with no step of the dossier
    assert _process(client, dossier_id).step["status"] == "started"


# -- claim and assign ---------------------------------------------------------------------


def test_a_specialist_claims_their_step_but_not_the_leaders(client: TestClient) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")

    claimed = _act(client, SPECIALIST, dossier_id, "claim")
    dossier_at_leader = _at(client, "ky_giay_khai_sinh")
    refused = _act(client, SPECIALIST, dossier_at_leader, "claim")

    assert claimed.status_code == 204, claimed.text
    assert _process(client, dossier_id).step["officer"] == "cv-1"
    message = _refused(refused, "lanh_dao", "chuyen_vien")
    assert "claim step ky_giay_khai_sinh" in message
    assert _process(client, dossier_at_leader).step["officer"] is None


def test_the_leader_assigns_a_specialists_step_and_the_assignee_is_recorded(
    client: TestClient,
) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")

    assigned = _act(client, LEADER, dossier_id, "claim", officer="cv-2")

    assert assigned.status_code == 204, assigned.text
    assert _process(client, dossier_id).step["officer"] == "cv-2"
    claimed = _contract(client, dossier_id, StepClaimed)[-1]
    assert (claimed.officer, claimed.assigned_by, claimed.role) == ("cv-2", "ld-1", "lanh_dao")


def test_a_specialist_assigns_their_step_to_a_colleague(client: TestClient) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")

    assigned = _act(client, SPECIALIST, dossier_id, "claim", officer="cv-2")

    assert assigned.status_code == 204, assigned.text
    claimed = _contract(client, dossier_id, StepClaimed)[-1]
    assert (claimed.officer, claimed.role) == ("cv-2", "chuyen_vien")


def test_the_one_stop_officer_may_not_assign_the_specialists_step(client: TestClient) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")

    refused = _act(client, ONE_STOP, dossier_id, "claim", officer="cv-2")

    message = _refused(refused, "chuyen_vien or lanh_dao", "mot_cua")
    assert "assign step tham_dinh_ghi_so" in message
    assert _process(client, dossier_id).step["officer"] is None


def test_naming_oneself_is_a_claim_not_an_assignment(client: TestClient) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")

    refused = _act(client, LEADER, dossier_id, "claim", officer="ld-1")

    _refused(refused, "chuyen_vien", "lanh_dao")


# -- approve and reject ---------------------------------------------------------------------


def test_only_the_leader_approves_at_the_leaders_step(client: TestClient) -> None:
    dossier_id = _at(client, "ky_giay_khai_sinh")

    by_specialist = _act(client, SPECIALIST, dossier_id, "approve", notes="Đồng ý")
    by_leader = _act(client, LEADER, dossier_id, "approve", notes="Đồng ý")

    message = _refused(by_specialist, "lanh_dao", "chuyen_vien")
    assert "approve step ky_giay_khai_sinh" in message
    assert by_leader.status_code == 204, by_leader.text
    assert _process(client, dossier_id).approved is True
    approved = _contract(client, dossier_id, DossierApproved)
    assert [(a.officer, a.role) for a in approved] == [("ld-1", "lanh_dao")]


def test_only_the_leader_rejects_at_the_leaders_step(client: TestClient) -> None:
    dossier_id = _at(client, "ky_giay_khai_sinh")

    by_one_stop = _act(client, ONE_STOP, dossier_id, "reject", reason="Không đủ điều kiện")
    by_leader = _act(client, LEADER, dossier_id, "reject", reason="Không đủ điều kiện")

    _refused(by_one_stop, "lanh_dao", "mot_cua")
    assert by_leader.status_code == 204, by_leader.text
    assert _process(client, dossier_id).status == "rejected"
    rejected = _contract(client, dossier_id, DossierRejected)
    assert [(r.officer, r.role) for r in rejected] == [("ld-1", "lanh_dao")]


def test_a_wrong_role_is_refused_before_the_state_is_judged(client: TestClient) -> None:
    """A refused officer learns nothing about the dossier's state from a 409."""
    dossier_id = _at(client, "ky_giay_khai_sinh")
    assert _act(client, LEADER, dossier_id, "approve").status_code == 204

    again = _act(client, SPECIALIST, dossier_id, "approve")

    _refused(again, "lanh_dao", "chuyen_vien")


# -- what is recorded -----------------------------------------------------------------------


def _contract(client: TestClient, dossier_id: str, kind: type[Any]) -> list[Any]:
    """The dossier's contract events of ``kind``, as the relay would publish them."""
    workflow = _workflow(client)
    events = list(workflow.events.get(uuid.UUID(dossier_id)))
    aggregates = BatchAggregates(workflow.repository, events)
    publish = WorkflowPublisher(workflow)
    return [c for e in events if isinstance(c := publish(e, aggregates), kind)]


def test_each_completed_step_says_the_role_it_was_completed_in(client: TestClient) -> None:
    dossier_id = _at(client, "tra_ket_qua")

    completed = _contract(client, dossier_id, StepCompleted)
    history = client.get(f"/v1/dossiers/{dossier_id}/timeline", headers=LEADER).json()["history"]

    assert [(c.step_id, c.officer, c.role) for c in completed] == [
        ("tiep_nhan", "mc-1", "mot_cua"),
        ("tham_dinh_ghi_so", "cv-1", "chuyen_vien"),
        ("ky_giay_khai_sinh", "ld-1", "lanh_dao"),
    ]
    assert [(h["by"], h["role"]) for h in history if h["event"] == "StepCompleted"] == [
        ("mc-1", "mot_cua"),
        ("cv-1", "chuyen_vien"),
        ("ld-1", "lanh_dao"),
    ]


@pytest.mark.parametrize("kind", [StepClaimed, StepCompleted, DossierApproved, DossierRejected])
def test_an_event_published_before_step_roles_reads_with_no_role(kind: type[Any]) -> None:
    fields = {
        "event_id": str(uuid.uuid4()),
        "dossier_id": str(uuid.uuid4()),
        "occurred_at": "2026-03-02T09:00:00+07:00",
        "producer": "workflow",
        "correlation_id": "c",
        "step_index": 0,
        "step_id": "tiep_nhan",
        "agency_code": BIRTH_AGENCY,
        "officer": "officer-1",
        "assigned_by": "officer-1",
        "notes": "",
        "reason": "Không đủ điều kiện",
        "completed_on": "2026-03-02",
        "late": False,
    }
    names = set(kind.model_fields)
    old = kind.model_validate({k: v for k, v in fields.items() if k in names})

    assert old.role is None


# -- the queue ------------------------------------------------------------------------------


def _queue(client: TestClient, who: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/v1/queue", headers=who, params=params)
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


def test_the_queue_says_who_can_act_on_each_dossier(client: TestClient) -> None:
    at_one_stop = _received(client)
    at_specialist = _at(client, "tham_dinh_ghi_so")

    mine = {r["dossier_id"]: (r["step_role"], r["can_act"]) for r in _queue(client, SPECIALIST)}
    theirs = {r["dossier_id"]: r["can_act"] for r in _queue(client, ONE_STOP)}
    nobody = {r["dossier_id"]: r["can_act"] for r in _queue(client, NO_ROLES)}

    assert mine == {at_one_stop: ("mot_cua", False), at_specialist: ("chuyen_vien", True)}
    assert theirs == {at_one_stop: True, at_specialist: False}
    assert nobody == {at_one_stop: False, at_specialist: False}


def test_the_queue_keeps_only_the_steps_one_can_act_on_when_asked(client: TestClient) -> None:
    at_one_stop = _received(client)
    at_specialist = _at(client, "tham_dinh_ghi_so")

    can = [r["dossier_id"] for r in _queue(client, SPECIALIST, can_act="true")]
    cannot = [r["dossier_id"] for r in _queue(client, SPECIALIST, can_act="false")]

    assert (can, cannot) == ([at_specialist], [at_one_stop])
    assert _queue(client, NO_ROLES, can_act="true") == []


def test_a_paused_dossier_is_not_one_to_act_on(client: TestClient) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")
    paused = _act(client, SPECIALIST, dossier_id, "request-supplement", reason="Thiếu bản sao")
    assert paused.status_code == 204, paused.text

    (row,) = _queue(client, SPECIALIST)

    assert (row["status"], row["can_act"]) == ("paused", False)


def test_queue_rows_saved_before_step_roles_take_the_role_from_the_catalogue(
    tmp_path: Path,
) -> None:
    settings = Settings(var_dir=tmp_path)
    client = TestClient(create_app(settings))
    dossier_id = _at(client, "tham_dinh_ghi_so")

    def as_before(tx: Any) -> None:  # the store as the release before left it
        tx.execute("ALTER TABLE {workflow_processes} DROP COLUMN step_role")
        tx.execute("DELETE FROM {schema_version} WHERE component = 'workflow' AND version = 2")

    _workflow(client).store.write(as_before)
    reopened = TestClient(create_app(settings))

    (row,) = _queue(reopened, SPECIALIST)
    assert (row["dossier_id"], row["step_role"], row["can_act"]) == (
        dossier_id,
        "chuyen_vien",
        True,
    )
