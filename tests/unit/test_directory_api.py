"""The directory of agencies and officers through intake's HTTP API, in process on its
real store: an administrator registers agencies and lists officers with their step
roles; each change is an event of the directory's stream, with who made it and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.envelope import Envelope
from contracts.intake import DIRECTORY_ID, AgencyRegistered, OfficerRemoved, OfficerRolesSet
from motcua.runtime.mapping import BatchAggregates
from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from motcua.web.auth import issue_token
from services.intake.to_contract import IntakePublisher
from tests.support.apps import intake_client
from tests.support.dossiers import officer

COMMUNE = "001.20.51.H23"  # Ủy ban nhân dân xã Tân Phú
TRANSPORT = "000.00.22.H23"  # Sở Giao thông vận tải
DECISION = "Quyết định số 12/QĐ-UBND ngày 02/3/2026"


def admin(sub: str = "admin-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, sub=sub, role='admin')}"}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return intake_client(Settings(var_dir=tmp_path / "var"))


def published(client: TestClient, *kinds: type[Envelope]) -> list[Any]:
    """The contract events of ``kinds`` intake's relay would publish, in store order."""
    intake = client.app.state.intake  # type: ignore[attr-defined]
    publisher = IntakePublisher(intake)
    stored = intake.recorder.select_notifications(1, 1000)
    events = [intake.mapper.to_domain_event(n) for n in stored]
    mapped = [publisher(e, BatchAggregates(intake.repository, events)) for e in events]
    return [e for e in mapped if isinstance(e, kinds)]


def register(client: TestClient, code: str = COMMUNE, name: str = "UBND xã Tân Phú") -> Any:
    body = {"name": name, "reason": "Nghị quyết thành lập"}
    return client.put(f"/v1/directory/agencies/{code}", headers=admin(), json=body)


def set_officer(client: TestClient, sub: str, roles: list[str], agency: str = COMMUNE) -> Any:
    body = {"agency": agency, "step_roles": roles, "reason": DECISION}
    return client.put(f"/v1/directory/officers/{sub}", headers=admin(), json=body)


def test_an_admin_registers_an_agency_and_lists_two_officers_with_their_roles(
    client: TestClient,
) -> None:
    assert register(client).json() == {"version": 1}
    assert set_officer(client, "cv-1", ["chuyen_vien"]).json() == {"version": 2}
    assert set_officer(client, "ld-1", ["lanh_dao", "chuyen_vien"]).json() == {"version": 3}

    listed = client.get("/v1/directory/officers", headers=admin(), params={"agency": COMMUNE})
    agencies = client.get("/v1/directory/agencies", headers=admin()).json()

    assert listed.status_code == 200, listed.text
    rows = {o["officer"]: o for o in listed.json()["officers"]}
    assert rows["cv-1"]["step_roles"] == ["chuyen_vien"]
    assert rows["ld-1"]["step_roles"] == ["chuyen_vien", "lanh_dao"]  # the vocabulary's order
    assert (rows["cv-1"]["changed_by"], rows["cv-1"]["reason"]) == ("admin-1", DECISION)
    assert listed.json()["version"] == 3
    assert [a["code"] for a in agencies["agencies"]] == [COMMUNE]
    roles_set = published(client, OfficerRolesSet)
    assert [(e.officer, e.step_roles, e.set_by, e.directory_version) for e in roles_set] == [
        ("cv-1", ("chuyen_vien",), "admin-1", 2),
        ("ld-1", ("chuyen_vien", "lanh_dao"), "admin-1", 3),
    ]
    assert {e.dossier_id for e in published(client, AgencyRegistered, OfficerRolesSet)} == {
        DIRECTORY_ID
    }


def test_the_same_entry_again_changes_nothing(client: TestClient) -> None:
    register(client)
    set_officer(client, "cv-1", ["chuyen_vien"])

    again = set_officer(client, "cv-1", ["chuyen_vien", "chuyen_vien"])
    registered_again = register(client)

    assert again.json() == registered_again.json() == {"version": 2}
    assert len(published(client, AgencyRegistered, OfficerRolesSet)) == 2


def test_setting_an_officer_at_another_agency_moves_them(client: TestClient) -> None:
    register(client)
    register(client, TRANSPORT, "Sở Giao thông vận tải")
    set_officer(client, "cv-1", ["chuyen_vien"])

    set_officer(client, "cv-1", ["mot_cua"], agency=TRANSPORT)

    at_commune = client.get("/v1/directory/officers", headers=admin(), params={"agency": COMMUNE})
    every = client.get("/v1/directory/officers", headers=admin()).json()["officers"]
    assert at_commune.json()["officers"] == []
    assert [(o["officer"], o["agency_code"], o["step_roles"]) for o in every] == [
        ("cv-1", TRANSPORT, ["mot_cua"])
    ]


def test_removing_an_officer_lists_them_no_more_and_an_unknown_one_is_404(
    client: TestClient,
) -> None:
    register(client)
    set_officer(client, "cv-1", ["chuyen_vien"])

    removed = client.delete(
        "/v1/directory/officers/cv-1", headers=admin(), params={"reason": "Chuyển công tác"}
    )
    again = client.delete(
        "/v1/directory/officers/cv-1", headers=admin(), params={"reason": "Chuyển công tác"}
    )

    assert removed.json() == {"version": 3}
    assert again.status_code == 404, again.text
    assert "cv-1 is not in the directory" in again.json()["error"]["message"]
    assert client.get("/v1/directory/officers", headers=admin()).json()["officers"] == []
    [event] = published(client, OfficerRemoved)
    assert (event.officer, event.agency_code, event.removed_by) == ("cv-1", COMMUNE, "admin-1")


@pytest.mark.parametrize("code", ["H99", "000.00.22", "000.00.22.h23", "0000.0.22.H23"])
def test_a_bad_agency_code_is_422_with_the_reason(client: TestClient, code: str) -> None:
    register(client)

    registering = register(client, code)
    listing = set_officer(client, "cv-1", ["chuyen_vien"], agency=code)

    for response in (registering, listing):
        assert response.status_code == 422, response.text
        assert "QCVN 102:2016" in response.json()["error"]["message"]


def test_an_unknown_role_none_or_an_agency_not_registered_is_422(client: TestClient) -> None:
    register(client)

    unknown = set_officer(client, "cv-1", ["giam_doc"])
    none = set_officer(client, "cv-1", [])
    unregistered = set_officer(client, "cv-1", ["chuyen_vien"], agency=TRANSPORT)

    assert unknown.status_code == 422, unknown.text
    assert "unknown step role(s) giam_doc" in unknown.json()["error"]["message"]
    assert none.status_code == 422, none.text
    assert "no step role" in none.json()["error"]["message"]
    assert unregistered.status_code == 422, unregistered.text
    assert f"agency {TRANSPORT} is not in the directory" in unregistered.json()["error"]["message"]
    assert published(client, OfficerRolesSet) == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/directory/agencies", None),
        ("PUT", f"/v1/directory/agencies/{COMMUNE}", {"name": "X", "reason": "abc"}),
        ("GET", "/v1/directory/officers", None),
        (
            "PUT",
            "/v1/directory/officers/cv-1",
            {"agency": COMMUNE, "step_roles": ["chuyen_vien"], "reason": "abc"},
        ),
        ("DELETE", "/v1/directory/officers/cv-1?reason=abc", None),
    ],
)
def test_only_an_admin_reads_or_changes_the_directory(
    client: TestClient, method: str, path: str, body: Any
) -> None:
    leader = officer(agency=COMMUNE, sub="ld-1", step_roles=("lanh_dao",))

    response = client.request(method, path, headers=leader, json=body)

    assert response.status_code == 403, response.text


def test_an_officers_token_with_step_roles_writes_nothing_in_the_directory(
    client: TestClient,
) -> None:
    """The token is the identity provider's word at sign-in; the directory is the
    administrator's record, and shows only what the administrator entered."""
    register(client)
    signed_in = officer(agency=COMMUNE, sub="cv-9", step_roles=("chuyen_vien",))
    client.get("/v1/dossiers", headers=signed_in)

    listed = client.get("/v1/directory/officers", headers=admin()).json()

    assert listed["officers"] == []
    assert published(client, OfficerRolesSet) == []
