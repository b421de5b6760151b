"""The working calendar through intake's HTTP API, in process on its real store: an
administrator enters the government's swaps and the office hours, and the receipt of a
dossier accepted afterwards gives the officially correct return time, to the minute."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.envelope import Envelope
from contracts.intake import (
    WORKING_CALENDAR_ID,
    DossierReceived,
    OfficeHoursSet,
    WorkingDayCleared,
    WorkingDaySet,
)
from devtools.demo.client import APPLICANTS, DemoClient
from motcua.runtime.mapping import BatchAggregates
from motcua.runtime.settings import Settings
from services.intake.to_contract import IntakePublisher
from tests.support.apps import demo_over, intake_client

DRIVING_LICENCE = "1.002804"  # 5 working days
BIRTH = "1.001193"  # 1 working day
SWAP = "Government's agreement of 25/12/2025, announced by the Ministry of Home Affairs"


@pytest.fixture
def clock(tmp_path: Path) -> Path:
    return tmp_path / "now"


@pytest.fixture
def client(tmp_path: Path, clock: Path) -> TestClient:
    settings = Settings(var_dir=tmp_path / "var", clock_file=clock)
    return intake_client(settings)


@pytest.fixture
def demo(client: TestClient) -> DemoClient:
    return demo_over(client)


def published(client: TestClient, *kinds: type[Envelope]) -> list[Any]:
    """The contract events of ``kinds`` intake's relay would publish, in store order."""
    intake = client.app.state.intake  # type: ignore[attr-defined]
    publisher = IntakePublisher(intake)
    stored = list(intake.recorder.select_notifications(1, 1000))
    events = [intake.mapper.to_domain_event(n) for n in stored]
    mapped = [publisher(e, BatchAggregates(intake.repository, events)) for e in events]
    return [e for e in mapped if isinstance(e, kinds)]


def enter_new_year_swap_2026(demo: DemoClient) -> None:
    for day, kind in (("2026-01-02", "day_off"), ("2026-01-10", "working_day")):
        demo.call(
            "PUT", f"/v1/calendar/days/{day}", demo.admin(), json={"kind": kind, "reason": SWAP}
        )


def accept_at(demo: DemoClient, clock: Path, moment: str, procedure: str) -> dict[str, Any]:
    clock.write_text(moment)
    dossier_id, agency = demo.submit(APPLICANTS[0], procedure)
    accepted = demo.call("POST", f"/v1/dossiers/{dossier_id}/accept", demo.officer(agency))
    receipt: dict[str, Any] = demo.call(
        "GET", f"/v1/dossiers/{accepted['code']}/receipt", demo.officer(agency)
    )
    return {**receipt, "agency": agency}


def test_after_the_2026_new_year_swap_is_entered_five_days_from_31_december_16h_end_9_january_16h(
    client: TestClient, demo: DemoClient, clock: Path
) -> None:
    enter_new_year_swap_2026(demo)

    receipt = accept_at(demo, clock, "2025-12-31T16:00:00+07:00", DRIVING_LICENCE)

    assert receipt["appointment_date"] == "2026-01-09"
    received = published(client, DossierReceived)[-1]
    assert received.appointment_at == datetime(2026, 1, 9, 9, tzinfo=UTC)  # 16:00 in Vietnam
    assert received.calendar_version == 2


@pytest.mark.parametrize(
    ("received", "returned"),
    [
        # Tết Đinh Mùi 2027: 4/2 (29 Chạp) to 10/2 (mùng 5) off.
        ("2027-02-03T09:00:00+07:00", "2027-02-11T09:00:00+07:00"),
        # 30/4 and 1/5 2026 fall on Thursday and Friday.
        ("2026-04-29T16:00:00+07:00", "2026-05-04T16:00:00+07:00"),
        # 1/5 2027 is a Saturday: given back on Monday 3/5.
        ("2027-04-29T16:00:00+07:00", "2027-05-04T16:00:00+07:00"),
        # National Day 2026: Monday 31/8 off, 1/9 and 2/9 off.
        ("2026-08-28T16:00:00+07:00", "2026-09-03T16:00:00+07:00"),
        # National Day 2027: 2/9 and 3/9, Thursday and Friday.
        ("2027-09-01T16:00:00+07:00", "2027-09-06T16:00:00+07:00"),
    ],
)
def test_one_working_day_across_the_holidays_on_the_receipt(
    demo: DemoClient, clock: Path, received: str, returned: str
) -> None:
    receipt = accept_at(demo, clock, received, BIRTH)

    assert (receipt["received_at"], receipt["appointment_at"]) == (received, returned)


def test_without_the_swap_the_library_alone_says_8_january(demo: DemoClient, clock: Path) -> None:
    receipt = accept_at(demo, clock, "2025-12-31T16:00:00+07:00", DRIVING_LICENCE)

    assert receipt["appointment_date"] == "2026-01-08"


def test_the_calendar_shows_each_entered_day_with_who_entered_it_and_why(
    demo: DemoClient,
) -> None:
    enter_new_year_swap_2026(demo)

    year = demo.call("GET", "/v1/calendar?year=2026", {})

    assert year["version"] == 2
    assert [(d["day"], d["working"], d["changed_by"]) for d in year["entered"]] == [
        ("2026-01-02", False, "admin"),
        ("2026-01-10", True, "admin"),
    ]
    assert {"day": "2026-01-02", "why": "entered: day off"} in year["days_off"]
    assert {"day": "2026-01-10", "why": "entered: working day"} in year["working_weekend_days"]
    assert {"day": "2026-02-17", "why": "holiday: Lunar New Year"} in year["days_off"]


def test_a_dossier_already_received_keeps_the_appointment_on_its_receipt(
    demo: DemoClient, clock: Path
) -> None:
    before = accept_at(demo, clock, "2025-12-30T09:00:00+07:00", DRIVING_LICENCE)

    enter_new_year_swap_2026(demo)
    path = f"/v1/dossiers/{before['code']}/receipt"
    receipt = demo.call("GET", path, demo.officer(before["agency"]))

    assert before["appointment_date"] == "2026-01-07"  # 30/12 9h + 5 days, Jan 2 worked
    assert receipt["appointment_date"] == before["appointment_date"]


def test_office_hours_set_by_the_administrator_count_the_time_limit(
    demo: DemoClient, clock: Path
) -> None:
    sessions = [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
    demo.call(
        "PUT",
        "/v1/calendar/office-hours",
        demo.admin(),
        json={"sessions": sessions, "reason": "QĐ 12/2026"},
    )

    due = demo.call(
        "GET", "/v1/calendar/deadline?received_at=2026-03-09T08:00:00%2B07:00&working_days=0.5", {}
    )

    assert datetime.fromisoformat(due["due_at"]) == datetime(2026, 3, 9, 5, tzinfo=UTC)  # 12:00
    assert due["calendar_version"] == 1


def test_a_quarter_day_is_due_the_same_day(demo: DemoClient) -> None:
    due = demo.call(
        "GET", "/v1/calendar/deadline?received_at=2026-03-09T08:00:00%2B07:00&working_days=0.25", {}
    )

    assert datetime.fromisoformat(due["due_at"]) == datetime(2026, 3, 9, 2, 52, 30, tzinfo=UTC)


@pytest.mark.parametrize("role", ["officer", "citizen"])
def test_only_an_administrator_changes_the_calendar(
    client: TestClient, demo: DemoClient, role: str
) -> None:
    headers = demo.officer("000.00.22.H23") if role == "officer" else demo.citizen(APPLICANTS[0])

    response = client.put(
        "/v1/calendar/days/2026-01-02", headers=headers, json={"kind": "day_off", "reason": SWAP}
    )

    assert response.status_code == 403
    assert "this action needs role admin" in response.text


def test_overlapping_sessions_are_refused_with_the_reason(
    client: TestClient, demo: DemoClient
) -> None:
    sessions = [{"start": "07:30", "end": "12:00"}, {"start": "11:00", "end": "17:00"}]

    response = client.put(
        "/v1/calendar/office-hours",
        headers=demo.admin(),
        json={"sessions": sessions, "reason": "x" * 5},
    )

    assert response.status_code == 422
    assert "without overlapping" in response.text


def test_clearing_a_day_that_was_not_entered_is_404(client: TestClient, demo: DemoClient) -> None:
    response = client.delete("/v1/calendar/days/2026-01-05?reason=mistake", headers=demo.admin())

    assert response.status_code == 404
    assert "2026-01-05 was not entered" in response.text


def test_a_cleared_day_follows_the_holiday_rules_again(demo: DemoClient) -> None:
    enter_new_year_swap_2026(demo)

    demo.call("DELETE", "/v1/calendar/days/2026-01-10?reason=entered%20by%20mistake", demo.admin())
    year = demo.call("GET", "/v1/calendar?year=2026", {})

    assert year["version"] == 3
    assert [d["day"] for d in year["entered"]] == ["2026-01-02"]
    assert year["working_weekend_days"] == [
        {"day": "2026-08-22", "why": "working day: a weekend day swapped by the holiday rules"}
    ]


def test_each_change_is_published_on_the_calendar_s_stream_with_its_version(
    client: TestClient, demo: DemoClient
) -> None:
    enter_new_year_swap_2026(demo)
    demo.call("DELETE", "/v1/calendar/days/2026-01-10?reason=mistake", demo.admin())
    demo.call(
        "PUT",
        "/v1/calendar/office-hours",
        demo.admin(),
        json={"sessions": [{"start": "07:00", "end": "11:00"}], "reason": "summer"},
    )

    changes = published(client, WorkingDaySet, WorkingDayCleared, OfficeHoursSet)

    assert [type(e) for e in changes] == [
        WorkingDaySet,
        WorkingDaySet,
        WorkingDayCleared,
        OfficeHoursSet,
    ]
    assert [e.calendar_version for e in changes] == [1, 2, 3, 4]
    assert {e.dossier_id for e in changes} == {WORKING_CALENDAR_ID}
