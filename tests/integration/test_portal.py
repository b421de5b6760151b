"""The national portal's view of the province, as an inspector would compare them.

Intake, workflow and portal run as real processes on the real broker; the national
portal is its simulator, a process of its own, told to be down, or to apply a call and
lose its answer. What is checked is what the portal holds (its ``/sim`` view) against
what the province says (portal's ``/v1/portal/records`` and ``motcua portal reconcile``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.demo.client import APPLICANTS, DemoClient
from motcua.core.waiting import wait_for
from motcua.runtime.settings import DEV_JWT_SECRET
from tests.support.processes import ServiceProcess, free_port, motcua
from tests.support.processes import simulator as start_simulator

pytestmark = pytest.mark.integration

BIRTH, COMMUNE = "1.001193", "001.20.51.H23"  # one commune, no fee
MONDAY = "2026-03-02T09:00:00+07:00"


@dataclass
class Province:
    client: DemoClient
    portal: ServiceProcess
    sim: httpx.Client

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.portal.url, timeout=30)

    def received(self, applicant: int = 0) -> str:
        dossier_id, agency = self.client.submit(APPLICANTS[applicant % 3], BIRTH)
        self.client.call("POST", f"/v1/dossiers/{dossier_id}/accept", self.client.officer(agency))
        return dossier_id

    def act(self, dossier_id: str, action: str, **body: Any) -> None:
        path = f"/v1/dossiers/{dossier_id}/{action}"
        officer = self.client.officer(COMMUNE)
        wait_for(
            lambda: (
                self.client.flow.get(
                    f"/v1/dossiers/{dossier_id}/timeline", headers=officer
                ).status_code
                == 200
            ),
            timeout=30,
            what="workflow to start the process",
        )
        self.client.act("POST", path, officer, json=body)

    def summary(self) -> dict[str, Any]:
        response = self.http.get("/v1/portal/summary", headers=self.client.admin())
        assert response.status_code == 200, response.text
        figures: dict[str, Any] = response.json()
        return figures

    def records(self) -> dict[str, dict[str, Any]]:
        response = self.http.get(
            "/v1/portal/records", params={"limit": 200}, headers=self.client.admin()
        )
        assert response.status_code == 200, response.text
        return {r["code"]: r for r in response.json()}

    def behaviour(self, mode: str, delay_seconds: float = 0.0) -> None:
        response = self.sim.post("/sim/config", json={"mode": mode, "delay_seconds": delay_seconds})
        assert response.status_code == 200, response.text

    def held(self) -> dict[str, dict[str, Any]]:
        held: dict[str, dict[str, Any]] = self.sim.get("/sim/records").json()
        return held

    def calls(self) -> dict[str, Any]:
        calls: dict[str, Any] = self.sim.get("/sim/calls").json()
        return calls

    def in_step(self, count: int) -> None:
        wait_for(
            lambda: (s := self.summary())["dossiers"] == count and s["behind"] == 0,
            timeout=60,
            what=f"the portal to have {count} dossiers in their latest version",
        )


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with start_simulator(
        "devtools.portal_simulator",
        port,
        tmp_path / "portal-sim.log",
        MOTCUA_VAR_DIR=str(tmp_path / "sim"),
        MOTCUA_PORTAL_SIM_PORT=str(port),
    ) as url:
        yield url


@pytest.fixture
def province(
    start_service: Callable[..., ServiceProcess], simulator: str, clock_file: Path
) -> Province:
    clock_file.write_text(MONDAY)
    intake = start_service("intake")
    workflow = start_service("workflow")
    portal = start_service(
        "portal",
        MOTCUA_PORTAL_URL=simulator,
        MOTCUA_PORTAL_RETRY_BASE_SECONDS="0.2",
        MOTCUA_PORTAL_RETRY_MAX_SECONDS="1.0",
        MOTCUA_PORTAL_SEND_LEASE_SECONDS="2",
        MOTCUA_PORTAL_POLL_SECONDS="0.1",
    )
    client = DemoClient(intake.url, workflow.url, DEV_JWT_SECRET)
    return Province(client, portal, httpx.Client(base_url=simulator, timeout=30))


def test_an_outage_during_a_load_loses_nothing_and_the_portal_ends_in_the_latest_state(
    province: Province, tmp_path: Path
) -> None:
    province.behaviour("fail")
    dossiers = [province.received(i) for i in range(6)]
    province.act(dossiers[0], "request-supplement", reason="Giấy chứng sinh bị mờ")
    province.act(dossiers[1], "reject", reason="Người yêu cầu không có quyền đăng ký")
    wait_for(
        lambda: (
            sorted(r["status"] for r in province.records().values() if r["attempts"])
            == ["4", "4", "4", "4", "5", "8"]
        ),
        timeout=60,
        what="every change recorded, and every dossier failing while the portal is down",
    )
    metrics = province.http.get("/metrics").text
    assert "motcua_portal_records_behind 6.0" in metrics
    assert "motcua_portal_records_failing 6.0" in metrics
    assert province.held() == {}
    failing = motcua(province.portal.env, "portal", "list", "--state", "failing")
    assert failing.returncode == 0, failing.stdout + failing.stderr
    assert "6 failing dossier(s)" in failing.stdout
    assert "503" in failing.stdout

    province.behaviour("ok")
    province.in_step(6)

    ours, held, calls = province.records(), province.held(), province.calls()
    assert set(held) == set(ours)
    for code, row in ours.items():
        assert held[code] == {**row["record"], "PhienBan": row["version"]}, code
        assert row["synced_version"] == row["version"]
        # Every change was made during the outage: the portal got the latest, once.
        assert calls["applied"][code] == [row["version"]]
    statuses = sorted(r["record"]["TrangThaiHoSo"] for r in ours.values())
    assert statuses == ["4", "4", "4", "4", "5", "8"]  # processing, supplement, refused

    report = tmp_path / "reconcile.csv"
    clean = motcua(province.portal.env, "portal", "reconcile", "--csv", str(report))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 difference(s) among 6 dossier(s)" in clean.stdout

    # The portal goes down again; a dossier moves on: the reconciliation names it.
    province.behaviour("fail")
    province.act(dossiers[2], "request-supplement", reason="Thiếu giấy chứng sinh")
    code = next(c for c, r in province.records().items() if r["dossier_id"] == dossiers[2])
    wait_for(lambda: province.summary()["behind"] == 1, timeout=30, what="the change recorded")
    behind = motcua(province.portal.env, "portal", "reconcile", "--csv", str(report))
    assert behind.returncode == 1, behind.stdout + behind.stderr
    with report.open(encoding="utf-8") as f:
        [line] = list(csv.DictReader(f))
    assert (line["code"], line["problem"]) == (code, "behind")
    assert "TrangThaiHoSo" in line["fields"].split()


@pytest.mark.store_semantics
def test_portal_killed_mid_call_sends_the_same_version_again_and_the_portal_applies_it_once(
    province: Province,
) -> None:
    province.behaviour("fail")
    dossier = province.received()

    def settled() -> dict[str, Any] | None:
        rows = list(province.records().values())
        return rows[0] if rows and rows[0]["version"] == 2 and rows[0]["attempts"] else None

    row = wait_for(settled, timeout=30, what="the dossier's record at version 2, failing")
    code, key = row["code"], f"{row['code']}:2"
    province.behaviour("slow", delay_seconds=2.0)
    arrived = province.calls()["arrived"]
    wait_for(lambda: province.calls()["arrived"] > arrived, timeout=30, what="the next call")
    province.portal.kill()  # kill -9 while the portal is still working on the call
    wait_for(lambda: code in province.held(), timeout=10, what="the portal to apply the call")
    province.behaviour("ok")
    province.portal.start()

    wait_for(
        lambda: province.records()[code]["synced_version"] == 2,
        timeout=60,
        what="the record sent again after the restart",
    )
    calls = province.calls()
    assert province.records()[code]["dossier_id"] == dossier
    assert calls["received"][key] == 2  # the call cut by the kill came again, same key
    assert calls["applied"][code] == [2]  # and was applied once
    assert province.held()[code]["PhienBan"] == 2
