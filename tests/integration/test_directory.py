"""The directory of agencies and officers across services: an administrator lists two
officers of the commune through intake's API, workflow learns it from the topic, the
leader assigns the specialist's step to the listed specialist and not to an officer
the directory does not list, and ``motcua audit directory`` shows each change with who
made it. Intake and workflow run as real processes on the real broker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.demo.client import APPLICANTS, DemoClient
from devtools.demo.workflow import wait_for_process
from motcua.core.waiting import wait_for
from motcua.runtime.settings import DEV_JWT_SECRET
from tests.support.processes import ServiceProcess, motcua

pytestmark = pytest.mark.integration

BIRTH, COMMUNE = "1.001193", "001.20.51.H23"  # tiep_nhan → tham_dinh_ghi_so (chuyen_vien) → …
DECISION = "Quyết định số 12/QĐ-UBND ngày 02/3/2026"


@pytest.fixture
def stack(
    start_service: Callable[..., ServiceProcess], clock_file: Path
) -> tuple[DemoClient, ServiceProcess, ServiceProcess]:
    clock_file.write_text("2026-03-02T09:00:00+07:00")
    intake = start_service("intake")
    workflow = start_service("workflow")
    return DemoClient(intake.url, workflow.url, DEV_JWT_SECRET), intake, workflow


def test_workflow_assigns_by_the_directory_the_admin_entered_at_intake(
    stack: tuple[DemoClient, ServiceProcess, ServiceProcess],
) -> None:
    client, intake, _ = stack
    admin = client.admin()
    client.call(
        "PUT",
        f"/v1/directory/agencies/{COMMUNE}",
        admin,
        json={"name": "Ủy ban nhân dân xã Tân Phú", "reason": "Nghị quyết thành lập"},
    )
    for sub, role in (("cv-1", "chuyen_vien"), ("ld-1", "lanh_dao")):
        body = {"agency": COMMUNE, "step_roles": [role], "reason": DECISION}
        client.call("PUT", f"/v1/directory/officers/{sub}", admin, json=body)

    dossier_id, agency = client.submit(APPLICANTS[0], BIRTH)
    client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))
    wait_for_process(client, dossier_id)
    one_stop = client.officer(COMMUNE, step_roles=("mot_cua",), sub="mc-1")
    client.act("POST", f"/v1/dossiers/{dossier_id}/complete-step", one_stop, json={})
    leader = client.officer(COMMUNE, step_roles=("lanh_dao",), sub="ld-1")

    def assign(officer: str) -> httpx.Response:
        path = f"/v1/dossiers/{dossier_id}/claim"
        response: httpx.Response = client.flow.post(path, headers=leader, json={"officer": officer})
        return response

    # Workflow learns the directory from the topic: until then the commune lists nobody.
    listed = wait_for(lambda: (r := assign("cv-1")).status_code == 204 and r, "the directory")
    unlisted = assign("cv-7")
    timeline: dict[str, Any] = client.act(
        "GET", f"/v1/dossiers/{dossier_id}/timeline", client.officer(COMMUNE)
    )

    assert listed.status_code == 204
    assert unlisted.status_code == 422, unlisted.text
    assert "the directory does not list officer cv-7" in unlisted.json()["error"]["message"]
    assert [s["officer"] for s in timeline["steps"] if s["id"] == "tham_dinh_ghi_so"] == ["cv-1"]
    shown = client.call("GET", "/v1/directory/officers", admin, params={"agency": COMMUNE})
    assert [(o["officer"], o["step_roles"]) for o in shown["officers"]] == [
        ("cv-1", ["chuyen_vien"]),
        ("ld-1", ["lanh_dao"]),
    ]  # the officers who signed in with tokens (mc-1) are not written in

    audit = motcua(intake.env, "audit", "directory")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert audit.stdout.count("OfficerRolesSet") == 2
    assert "cv-1 at 001.20.51.H23 as chuyen_vien" in audit.stdout
    assert "Step roles held" in audit.stdout
    assert "admin" in audit.stdout
    assert "Chain intact" in audit.stdout
    shown_cli = motcua(intake.env, "directory", "show")
    assert shown_cli.returncode == 0, shown_cli.stdout + shown_cli.stderr
    assert "2 officer(s)" in shown_cli.stdout
