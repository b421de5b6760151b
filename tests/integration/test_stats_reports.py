"""A month's report through the real stats service and the ``motcua report`` command.

Intake, workflow and stats run as processes against the broker; three dossiers are
received this month, one resolved, one rejected, one left open. The month's report over
HTTP counts them, its XLSX opens, a bad grouping is a 422, and the command prints the
same totals. (The as-of property, later events leaving a past month unchanged, is shown
in ``tests/unit/test_stats_reports.py``, with events of chosen times.)
"""

from __future__ import annotations

import functools
import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from devtools.demo.client import APPLICANTS, DemoClient
from devtools.demo.workflow import BIRTH, Officers, birth_to_electronic_result, wait_for_process
from motcua.core.calendar import VIETNAM_TZ
from motcua.core.waiting import wait_for
from motcua.runtime.settings import DEV_JWT_SECRET
from tests.support.processes import ROOT, ServiceProcess

pytestmark = pytest.mark.integration

wait_45 = functools.partial(wait_for, timeout=45.0)


def received(client: DemoClient, applicant: int, channel: str = "online") -> str:
    dossier_id, agency = client.submit(APPLICANTS[applicant], BIRTH, channel)
    client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))
    wait_for_process(client, dossier_id)
    return dossier_id


def this_month(stats: ServiceProcess, **params: str) -> httpx.Response:
    month = datetime.now(VIETNAM_TZ).strftime("%Y-%m")
    return httpx.get(f"{stats.url}/v1/reports", params={"period": month, **params}, timeout=10)


def test_a_month_s_report_over_http_and_the_command(
    start_service: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    """On the real clock: the events' ``occurred_at`` is the store's time, not a test's
    clock file, and the report counts by the events' own times."""
    intake, workflow = start_service("intake"), start_service("workflow")
    stats = start_service("stats")
    client = DemoClient(intake.url, workflow.url, DEV_JWT_SECRET)
    resolved, rejected = received(client, 0), received(client, 1, "counter")
    received(client, 2)
    birth_to_electronic_result(client, resolved)
    Officers(client, rejected).do("reject", reason="Không đủ điều kiện đăng ký")

    def counted() -> dict[str, Any] | None:
        body: dict[str, Any] = this_month(stats).json()
        t = body["totals"]
        return body if (t["received"], t["resolved"], t["rejected"]) == (3, 1, 1) else None

    body = wait_45(counted, "stats to count the dossiers in this month's report")
    assert body["complete"] is False  # the month is not over: as of now
    totals = body["totals"]
    assert (totals["received_online"], totals["received_counter"]) == (2, 1)
    assert (totals["open_on_time"], totals["open_overdue"], totals["paused"]) == (1, 0, 0)
    assert totals["refused"] == 1

    xlsx = this_month(stats, format="xlsx", by="agency")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert body["period"] in str(sheet["A1"].value)
    assert this_month(stats, by="ward").status_code == 422

    command = subprocess.run(
        [sys.executable, "-m", "ops.cli", "report", "--period", body["period"], "--format", "json"],
        env={**stats.env, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert command.returncode == 0, command.stdout + command.stderr
    assert json.loads(command.stdout)["totals"] == totals
