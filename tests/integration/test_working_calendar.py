"""The working calendar across services: an administrator enters the 2026 New Year swap
with ``motcua calendar import``, intake's receipt and workflow's deadlines count with it,
and ``motcua audit calendar`` shows each change with who made it. Intake and workflow run
as real processes on the real broker; "now" is injected through the clock file."""

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

DRIVING, TRANSPORT = "1.002804", "000.00.22.H23"  # 5 working days: 0.5, 2, 1, 1, 0.5


@pytest.fixture
def stack(
    start_service: Callable[..., ServiceProcess], clock_file: Path
) -> tuple[DemoClient, ServiceProcess, ServiceProcess]:
    clock_file.write_text("2025-12-29T09:00:00+07:00")
    intake = start_service("intake")
    workflow = start_service("workflow")
    return DemoClient(intake.url, workflow.url, DEV_JWT_SECRET), intake, workflow


def test_after_the_2026_new_year_swap_is_imported_receipt_and_deadlines_count_with_it(
    stack: tuple[DemoClient, ServiceProcess, ServiceProcess], clock_file: Path
) -> None:
    client, intake, workflow = stack

    imported = motcua(intake.env, "calendar", "import")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "2 day(s) entered" in imported.stdout
    again = motcua(intake.env, "calendar", "import")
    assert "0 day(s) entered, 2 already held" in again.stdout  # importing twice changes nothing
    wait_for(lambda: httpx.get(f"{workflow.url}/v1/calendar").json()["version"] == 2)

    clock_file.write_text("2025-12-31T16:00:00+07:00")
    dossier_id, agency = client.submit(APPLICANTS[0], DRIVING)
    accepted = client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))
    wait_for_process(client, dossier_id)
    timeline: dict[str, Any] = client.act(
        "GET", f"/v1/dossiers/{dossier_id}/timeline", client.officer(agency)
    )

    # Officially: 31/12 16:00–17:00, then 5/1 to 9/1 (1/1 a holiday, 2/1 swapped off).
    assert accepted["receipt"]["appointment_date"] == "2026-01-09"
    assert accepted["receipt"]["appointment_at"] == "2026-01-09T16:00:00+07:00"
    lookup = {"X-Id-Number": APPLICANTS[0].id_number}
    view = client.call("GET", f"/v1/dossiers/{accepted['code']}", lookup)
    assert view["appointment_at"] == "2026-01-09T16:00:00+07:00"
    assert timeline["appointment_date"] == "2026-01-09"
    # The first step (half a day, 3 h 45 min) ends on Monday 5/1 at 10:15, not on Friday 2/1.
    assert timeline["steps"][0]["due_date"] == "2026-01-05"

    audit = motcua(intake.env, "audit", "calendar")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert audit.stdout.count("WorkingDaySet") == 2
    assert "2026-01-02 day off" in audit.stdout
    assert "2026-01-10 working day" in audit.stdout
    assert "operator-cli" in audit.stdout
    assert "Chain intact" in audit.stdout


def test_a_received_dossier_keeps_its_appointment_when_the_calendar_changes_after(
    stack: tuple[DemoClient, ServiceProcess, ServiceProcess], clock_file: Path
) -> None:
    client, intake, _ = stack
    clock_file.write_text("2025-12-31T16:00:00+07:00")
    dossier_id, agency = client.submit(APPLICANTS[0], DRIVING)
    client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))

    imported = motcua(intake.env, "calendar", "import")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    receipt = client.call("GET", f"/v1/dossiers/{dossier_id}/receipt", client.officer(agency))

    assert receipt["appointment_date"] == "2026-01-08"  # as it was given: 2/1 a working day then
