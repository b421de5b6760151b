"""``motcua audit``: a dossier's record read back from the topic, its chain verified,
tampering found where it happened, and the dossier as it stood at an earlier moment."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.demo.client import APPLICANTS, DemoClient
from devtools.demo.workflow import wait_for_process
from motcua.core.calendar import VIETNAM_TZ
from motcua.core.waiting import wait_for
from motcua.runtime.settings import DEV_JWT_SECRET
from tests.support.processes import ROOT, ServiceProcess

pytestmark = pytest.mark.integration

DRIVING, TRANSPORT = "1.002804", "000.00.22.H23"


def run_audit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "audit", *args],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def messages(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), "utf-8")
    return path


@pytest.fixture
def dossier(
    start_service: Callable[..., ServiceProcess],
) -> tuple[str, dict[str, str]]:
    """A driving-licence dossier received, billed, and its first step completed."""
    gateway = {"MOTCUA_PAYMENT_GATEWAY_URL": "http://127.0.0.1:9"}  # never called here
    intake = start_service("intake")
    workflow = start_service("workflow")
    payment = start_service("payment", **gateway)
    client = DemoClient(intake.url, workflow.url, DEV_JWT_SECRET)
    dossier_id, agency = client.submit(APPLICANTS[0], DRIVING)
    client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))
    code = client.call("GET", f"/v1/dossiers/{dossier_id}", client.admin())["code"]

    wait_for_process(client, dossier_id)
    client.act(
        "POST", f"/v1/dossiers/{dossier_id}/complete-step", client.officer(TRANSPORT), json={}
    )
    bill = f"{payment.url}/v1/payments/{dossier_id}"
    wait_for(lambda: httpx.get(bill, headers=client.admin()).status_code == 200)
    return code, intake.env


@pytest.mark.store_semantics
def test_audit_prints_the_timeline_and_finds_every_kind_of_tampering(
    dossier: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    code, env = dossier
    export = tmp_path / "export.jsonl"

    runs: list[subprocess.CompletedProcess[str]] = []

    def complete() -> bool:
        """The relays publish within moments: read the topic again until all is there."""
        runs.append(run_audit(env, code, "--export", str(export)))
        assert runs[-1].returncode == 0, runs[-1].stdout + runs[-1].stderr
        types = {e["type"] for e in messages(export)}
        return {"StepCompleted", "FeeAssessed", "DossierReceived"} <= types

    wait_for(complete)
    intact = runs[-1]
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "Chain intact" in intact.stdout
    for shown in ("DossierReceived", "StepStarted", "StepCompleted", "FeeAssessed", "intake 2"):
        assert shown in intact.stdout
    events = messages(export)
    producers = {e["producer"] for e in events}
    assert producers == {"intake", "workflow", "payment"}

    received = next(i for i, e in enumerate(events) if e["type"] == "DossierSubmitted")
    altered = [dict(e) for e in events]
    altered[received]["procedure_name"] = "Something else"
    result = run_audit(env, code, "--file", str(write(tmp_path / "altered.jsonl", altered)))
    assert result.returncode == 1
    assert f"intake #1 (event {events[received]['event_id']}): altered" in result.stdout

    started = next(i for i, e in enumerate(events) if e["type"] == "StepStarted")
    removed = events[:started] + events[started + 1 :]
    result = run_audit(env, code, "--file", str(write(tmp_path / "removed.jsonl", removed)))
    assert result.returncode == 1
    assert "event(s) 1 of workflow missing" in result.stdout

    last = max(
        (i for i, e in enumerate(events) if e["producer"] == "workflow"),
        key=lambda i: events[i]["chain_seq"],
    )
    truncated = events[:last] + events[last + 1 :]
    path = write(tmp_path / "truncated.jsonl", truncated)
    result = run_audit(env, code, "--file", str(path))
    assert result.returncode == 1
    assert "of workflow missing at the end" in result.stdout
    unanchored = run_audit(env, code, "--file", str(path), "--no-stores")
    assert unanchored.returncode == 0  # an export alone cannot show its own end is gone
    assert "strand ends not checked" in unanchored.stdout


def test_audit_as_of_shows_the_dossier_as_it_stood(
    dossier: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    code, env = dossier
    export = tmp_path / "export.jsonl"

    def complete() -> bool:
        run = run_audit(env, code, "--export", str(export))
        assert run.returncode == 0, run.stdout + run.stderr
        return "StepCompleted" in {e["type"] for e in messages(export)}

    wait_for(complete)
    events = messages(export)
    started = next(e for e in events if e["type"] == "StepStarted")
    moment = datetime.fromisoformat(started["occurred_at"]).astimezone(VIETNAM_TZ)
    as_of = moment.replace(microsecond=0, tzinfo=None).isoformat()
    before = [
        e
        for e in events
        if datetime.fromisoformat(e["occurred_at"]) <= moment.replace(microsecond=0)
    ]
    result = run_audit(env, code, "--as-of", as_of)
    assert result.returncode == 0, result.stdout + result.stderr
    shown = re.search(r"(\d+) of (\d+) events", result.stdout)
    assert shown is not None, result.stdout
    # Later events may have arrived since the export (a notice, a bill): never earlier ones.
    assert int(shown[1]) == len(before)
    assert int(shown[2]) >= len(events)
    assert "StepCompleted" not in result.stdout
    assert "Status as of" in result.stdout
    unknown = run_audit(env, "000.00.00.H00-000000-0000")
    assert unknown.returncode == 2
    assert "no dossier with code" in unknown.stdout
