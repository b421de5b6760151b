"""Who may act on a step (services/workflow/authority.py): the officers holding the
current step's role at its agency; assigning also the agency's leader.

Workflow runs in-process on its real store; a birth registration reaches it as the
``DossierReceived`` its consumer would apply. Its four steps are all at the commune:
tiep_nhan (mot_cua) → tham_dinh_ghi_so (chuyen_vien) → ky_giay_khai_sinh (lanh_dao) →
tra_ket_qua (mot_cua). Officers act over HTTP with one or more step roles each.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.intake import DIRECTORY_ID, AgencyRegistered, OfficerRemoved, OfficerRolesSet
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


_versions = iter(range(1, 1000))


def _directory(client: TestClient, kind: type[Any], **fields: Any) -> None:
    """A change of the directory as workflow's consumer applies it from the topic."""
    event = kind(
        event_id=uuid.uuid4(),
        dossier_id=DIRECTORY_ID,
        occurred_at=datetime(2026, 3, 2, 1, tzinfo=UTC),
        producer="intake",
        correlation_id="test",
        reason="Quyết định số 12/QĐ-UBND",
        directory_version=next(_versions),
        **fields,
    )
    workflow = _workflow(client)
    deliver(workflow, workflow.store, workflow.handlers(), event, name="workflow")


def _listed(client: TestClient, sub: str, *roles: str, agency: str = BIRTH_AGENCY) -> None:
    """The administrator lists ``sub`` at ``agency`` with ``roles`` (the agency first)."""
    _directory(client, AgencyRegistered, code=agency, name="UBND xã", registered_by="admin-1")
    _directory(
        client, OfficerRolesSet, officer=sub, agency_code=agency, step_roles=roles, set_by="admin-1"
    )


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
    _listed(client, "cv-2", "chuyen_vien")

    assigned = _act(client, LEADER, dossier_id, "claim", officer="cv-2")

    assert assigned.status_code == 204, assigned.text
    assert _process(client, dossier_id).step["officer"] == "cv-2"
    claimed = _contract(client, dossier_id, StepClaimed)[-1]
    assert (claimed.officer, claimed.assigned_by, claimed.role) == ("cv-2", "ld-1", "lanh_dao")


def test_a_specialist_assigns_their_step_to_a_colleague(client: TestClient) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")
    _listed(client, "cv-2", "chuyen_vien", "lanh_dao")

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


# -- assigning by the directory ------------------------------------------------------------


def _cannot_assign(response: Any, officer: str, problem: str) -> None:
    assert response.status_code == 422, response.text
    message: str = response.json()["error"]["message"]
    assert message.startswith(f"cannot assign to {officer}: step tham_dinh_ghi_so"), message
    assert f"needs the step role chuyen_vien at {BIRTH_AGENCY}" in message, message
    assert problem in message, message


def test_a_step_is_not_assigned_to_an_officer_the_directory_does_not_list(
    client: TestClient,
) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")
    _listed(client, "cv-2", "chuyen_vien")

    refused = _act(client, LEADER, dossier_id, "claim", officer="cv-3")

    _cannot_assign(refused, "cv-3", "the directory does not list officer cv-3")
    assert _process(client, dossier_id).step["officer"] is None


def test_nor_to_one_listed_with_another_role_or_at_another_agency(client: TestClient) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")
    _listed(client, "mc-2", "mot_cua")
    _listed(client, "cv-9", "chuyen_vien", agency="000.00.22.H23")

    other_role = _act(client, LEADER, dossier_id, "claim", officer="mc-2")
    elsewhere = _act(client, LEADER, dossier_id, "claim", officer="cv-9")

    _cannot_assign(other_role, "mc-2", f"lists officer mc-2 at {BIRTH_AGENCY} as mot_cua")
    _cannot_assign(elsewhere, "cv-9", "lists officer cv-9 at agency 000.00.22.H23")


def test_nor_to_one_removed_from_the_directory(client: TestClient) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")
    _listed(client, "cv-2", "chuyen_vien")
    _listed(client, "cv-3", "chuyen_vien")
    _directory(
        client, OfficerRemoved, officer="cv-2", agency_code=BIRTH_AGENCY, removed_by="admin-1"
    )

    refused = _act(client, LEADER, dossier_id, "claim", officer="cv-2")

    _cannot_assign(refused, "cv-2", "the directory does not list officer cv-2")


def test_an_agency_the_directory_lists_nobody_at_takes_no_assignment_but_claims(
    client: TestClient,
) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")

    refused = _act(client, LEADER, dossier_id, "claim", officer="cv-2")
    claimed = _act(client, SPECIALIST, dossier_id, "claim")

    _cannot_assign(refused, "cv-2", f"the directory lists no officers at agency {BIRTH_AGENCY}")
    assert claimed.status_code == 204, claimed.text  # by the token's role
    assert _process(client, dossier_id).step["officer"] == "cv-1"


def test_a_change_delivered_again_does_not_undo_a_later_one(client: TestClient) -> None:
    dossier_id = _at(client, "tham_dinh_ghi_so")
    workflow = _workflow(client)
    listed = OfficerRolesSet(
        event_id=uuid.uuid4(),
        dossier_id=DIRECTORY_ID,
        occurred_at=datetime(2026, 3, 2, 1, tzinfo=UTC),
        producer="intake",
        correlation_id="test",
        officer="cv-2",
        agency_code=BIRTH_AGENCY,
        step_roles=("chuyen_vien",),
        reason="Quyết định số 12/QĐ-UBND",
        set_by="admin-1",
        directory_version=next(_versions),
    )
    _directory(client, AgencyRegistered, code=BIRTH_AGENCY, name="UBND xã", registered_by="a")
    deliver(workflow, workflow.store, workflow.handlers(), listed, name="workflow")
    _directory(
        client, OfficerRemoved, officer="cv-2", agency_code=BIRTH_AGENCY, removed_by="admin-1"
    )
    _directory(
        client, OfficerRolesSet, officer="cv-3", agency_code=BIRTH_AGENCY,
        step_roles=("chuyen_vien",), set_by="admin-1",
    )  # fmt: skip

    deliver(workflow, workflow.store, workflow.handlers(), listed, name="workflow")

    refused = _act(client, LEADER, dossier_id, "claim", officer="cv-2")
    _cannot_assign(refused, "cv-2", "the directory does not list officer cv-2")


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
        for table in ("directory_agencies", "directory_officers", "directory_state"):
            tx.execute(f"DROP TABLE {{{table}}}")  # step 3's
        tx.execute("DELETE FROM {schema_version} WHERE component = 'workflow' AND version >= 2")

    _workflow(client).store.write(as_before)
    reopened = TestClient(create_app(settings))

    (row,) = _queue(reopened, SPECIALIST)
    assert (row["dossier_id"], row["step_role"], row["can_act"]) == (
        dossier_id,
        "chuyen_vien",
        True,
    )
