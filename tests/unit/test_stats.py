"""Stats: the projection rules event by event, the year-to-date figures, the replay, the API."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from contracts import payment as cp
from contracts import workflow as wf
from contracts.envelope import Applicant, Channel, Envelope
from contracts.events import EVENT_TYPES, decode, encode
from contracts.intake import DossierReceived, DossierWithdrawn
from motcua.runtime.settings import Settings
from motcua.runtime.store import Tx, store_env
from services.stats import readmodel as rm
from services.stats.api import to_csv, to_xlsx
from services.stats.application import StatsApplication, apply_event
from services.stats.figures import COLUMNS, Ytd
from services.stats.main import create_app
from services.stats.projection import (
    AgencySteps,
    DossierStats,
    Projection,
    apply,
    apply_agency,
    as_event,
    handles,
)
from tests.support.ledger import offline_consumer
from tests.support.processes import Postgres
from tests.support.samples import tables

YEAR = 2026
CHANNELS: tuple[Channel, ...] = ("online", "counter", "post")
TIMELINESS: tuple[wf.Timeliness, ...] = ("early", "on_time", "late")
TODAY = date(2026, 3, 20)
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam


# -- building contract events -----------------------------------------------------------


@dataclass
class Story:
    """One dossier's events, in order, each a moment after the previous one."""

    procedure_id: str = "1.000001"
    procedure_name: str = "Cấp giấy phép xây dựng"
    level: int = 3
    channel: Channel = "online"
    agency: str = "000.00.01.H01"
    received_at: datetime = START
    appointment: date = date(2026, 3, 20)
    dossier_id: uuid.UUID = field(default_factory=uuid.uuid4)
    clock: datetime = START

    def envelope(self) -> dict[str, Any]:
        self.clock += timedelta(minutes=1)
        return {
            "event_id": uuid.uuid4(),
            "dossier_id": self.dossier_id,
            "occurred_at": self.clock,
            "producer": "workflow",
            "correlation_id": "test",
        }

    def received(self) -> DossierReceived:
        self.clock = max(self.clock, self.received_at)
        return DossierReceived(
            **{**self.envelope(), "producer": "intake"},
            procedure_id=self.procedure_id,
            procedure_name=self.procedure_name,
            level=self.level,
            agency_code=self.agency,
            channel=self.channel,
            applicant=Applicant(account="citizen-1", full_name="NGUYỄN VĂN A", id_number="0" * 12),
            form_data={},
            documents=(),
            code=f"{self.agency}-260302-0001",
            received_at=self.received_at,
            appointment_date=self.appointment,
            time_limit_working_days=10,
            received_by="officer-1",
        )

    def step_started(self, agency: str, index: int = 0) -> wf.StepStarted:
        return wf.StepStarted(
            **self.envelope(),
            step_index=index,
            step_id=f"s{index}",
            step_name=f"Bước {index}",
            agency_code=agency,
            role="officer",
            started_on=self.clock.date(),
            due_date=self.appointment,
        )

    def step_completed(
        self, agency: str, index: int = 0, *, late: bool = False
    ) -> wf.StepCompleted:
        return wf.StepCompleted(
            **self.envelope(),
            step_index=index,
            step_id=f"s{index}",
            agency_code=agency,
            officer="officer-2",
            notes="",
            completed_on=self.clock.date(),
            late=late,
        )

    def step_overdue(self, agency: str, index: int = 0) -> wf.StepOverdue:
        return wf.StepOverdue(
            **self.envelope(),
            step_index=index,
            step_id=f"s{index}",
            agency_code=agency,
            due_date=self.appointment,
        )

    def supplement_requested(self) -> wf.SupplementRequested:
        return wf.SupplementRequested(
            **self.envelope(),
            agency_code=self.agency,
            officer="officer-2",
            reason="thiếu bản vẽ",
            requested_on=self.clock.date(),
        )

    def supplement_provided(self, appointment: date) -> wf.SupplementProvided:
        self.appointment = appointment  # the statutory appointment moves with the pause
        return wf.SupplementProvided(
            **self.envelope(),
            provided_on=self.clock.date(),
            paused_working_days=3,
            appointment_date=appointment,
        )

    def overdue(self, responsible: str, *late: str) -> wf.DossierOverdue:
        return wf.DossierOverdue(
            **self.envelope(),
            appointment_date=self.appointment,
            responsible_agency=responsible,
            late_agencies=late or (responsible,),
        )

    def apology(self, appointment: date) -> wf.ApologyIssued:
        return wf.ApologyIssued(
            **self.envelope(),
            agency_code=self.agency,
            officer="officer-2",
            reason="quá tải",
            previous_appointment_date=self.appointment,
            appointment_date=appointment,
        )

    def rejected(self) -> wf.DossierRejected:
        return wf.DossierRejected(
            **self.envelope(), agency_code=self.agency, officer="o", reason="không đủ điều kiện"
        )

    def withdrawn(self) -> DossierWithdrawn:
        return DossierWithdrawn(**self.envelope(), reason="không cần nữa", withdrawn_by="citizen-1")

    def result(
        self,
        timeliness: wf.Timeliness = "on_time",
        *,
        at: datetime | None = None,
        kind: wf.ResultKind = "pickup",
    ) -> wf.ResultIssued:
        """A result issued ``at``, or at a time that is ``timeliness`` against the
        statutory appointment: early as it comes (before the appointment), on time at
        10:00 on the appointment's day, late at 10:00 the day after it."""
        if at is None and timeliness != "early":
            day = self.appointment + timedelta(days=int(timeliness == "late"))
            at = datetime(day.year, day.month, day.day, 3, tzinfo=UTC)  # 10:00 in Vietnam
        if at is not None:
            self.clock = max(self.clock, at - timedelta(minutes=1))
        return wf.ResultIssued(
            **self.envelope(),
            agency_code=self.agency,
            officer="officer-2",
            kind=kind,
            issued_at=self.clock,
            appointment_date=self.appointment,
            timeliness=timeliness,
        )

    def paid(self, amount: int) -> cp.PaymentSucceeded:
        return cp.PaymentSucceeded(
            **{**self.envelope(), "producer": "payment"},
            payment_code="PC1",
            amount_vnd=amount,
            method="online",
            paid_at=self.clock,
            transaction_id=f"T{uuid.uuid4().hex[:8]}",
            receipt_number="BL-1",
        )

    def refunded(self, amount: int) -> cp.RefundSucceeded:
        return cp.RefundSucceeded(
            **{**self.envelope(), "producer": "payment"},
            payment_code="PC1",
            refund_id=f"R{uuid.uuid4().hex[:8]}",
            amount_vnd=amount,
            refund_transaction_id=None,
        )


def replay(events: list[Envelope]) -> tuple[DossierStats | None, dict[str, AgencySteps]]:
    """The pure rules over one dossier's events."""
    state: DossierStats | None = None
    agencies: dict[str, AgencySteps] = {}
    for event in events:
        state = apply(state, event)
        code = getattr(event, "agency_code", None)
        if isinstance(event, wf.StepStarted | wf.StepCompleted | wf.StepOverdue):
            row = apply_agency(state, agencies.get(event.agency_code), event)
            if row is not None and code is not None:
                agencies[code] = row
    return state, agencies


# -- the rules, event by event ----------------------------------------------------------


def test_received_creates_the_row_in_the_local_year() -> None:
    story = Story(received_at=datetime(2025, 12, 31, 17, 30, tzinfo=UTC))  # 00:30 on 1 Jan
    event = story.received()
    state = apply(None, event)
    assert state == DossierStats(
        dossier_id=str(story.dossier_id),
        year=2026,
        procedure_id="1.000001",
        procedure_name="Cấp giấy phép xây dựng",
        level=3,
        channel="online",
        agency_code="000.00.01.H01",
        appointment_date="2026-03-20",
        status="in_progress",
        updated_at=event.model_dump(mode="json")["occurred_at"],
        statutory_date="2026-03-20",
    )


def test_events_of_a_dossier_never_received_are_ignored() -> None:
    story = Story()
    assert apply(None, story.result("early")) is None
    assert apply(None, story.paid(10_000)) is None
    assert apply_agency(None, None, story.step_started("A")) is None
    projection = Projection().feed_all(
        as_event(e) for e in (story.step_started("A"), story.paid(1))
    )
    assert projection.dossiers == {}
    assert projection.agencies == {}


def test_apply_leaves_the_previous_state_unchanged() -> None:
    story = Story()
    before = apply(None, story.received())
    after = apply(before, story.rejected())
    assert before is not None
    assert after is not None
    assert (before.status, after.status) == ("in_progress", "refused")


def test_a_redelivered_receipt_changes_nothing() -> None:
    story = Story()
    first = story.received()
    state = apply(apply(None, first), story.supplement_requested())
    assert apply(state, first) == state


def test_supplement_pauses_then_moves_the_appointment() -> None:
    story = Story()
    paused, _ = replay([story.received(), story.supplement_requested()])
    assert paused is not None
    assert paused.paused
    resumed = apply(paused, story.supplement_provided(date(2026, 3, 27)))
    assert resumed is not None
    assert (resumed.paused, resumed.appointment_date) == (False, "2026-03-27")


def test_overdue_names_the_late_agency_and_an_apology_moves_the_appointment() -> None:
    story = Story()
    state, _ = replay(
        [story.received(), story.overdue("B", "B", "C"), story.apology(date(2026, 4, 3))]
    )
    assert state is not None
    assert (state.overdue, state.late_agency, state.appointment_date) == (True, "B", "2026-04-03")


def test_a_dossier_resolved_after_its_appointment_counts_late_even_when_apologised() -> None:
    story = Story()
    apologised = date(2026, 4, 3)
    events = [
        story.received(),
        story.overdue("000.00.01.H01"),
        story.apology(apologised),
        # Resolved after the appointment on the receipt, before the apologised date:
        # workflow's result says on time against the apologised date.
        story.result("on_time"),
    ]
    state, _ = replay(events)
    assert state is not None
    assert (state.status, state.timeliness) == ("resolved", "late")


def test_lateness_is_judged_against_the_statutory_appointment_not_the_apology() -> None:
    """No overdue mark reached stats, and the result says on time (judged against the
    apologised date, as older events were): issued after the receipt's appointment, late."""
    story = Story()
    after_the_appointment = datetime(2026, 3, 23, 3, tzinfo=UTC)  # Monday after the 20th
    state, _ = replay(
        [
            story.received(),
            story.apology(date(2026, 4, 3)),
            story.result("on_time", at=after_the_appointment),
        ]
    )
    assert state is not None
    assert (state.timeliness, state.apologised, state.statutory_date) == (
        "late",
        True,
        "2026-03-20",
    )
    assert state.appointment_date == "2026-04-03"  # the applicant's new date, kept beside


def test_the_result_s_own_timeliness_is_not_trusted() -> None:
    early, on_the_day = Story(), Story()
    first, _ = replay([early.received(), early.result("late", at=START + timedelta(days=1))])
    day = datetime(2026, 3, 20, 9, tzinfo=UTC)  # 16:00 in Vietnam on the appointment's day
    second, _ = replay([on_the_day.received(), on_the_day.result("early", at=day)])
    assert first is not None
    assert second is not None
    assert (first.timeliness, second.timeliness) == ("early", "on_time")


def test_with_the_appointment_s_moment_a_result_after_it_is_late_the_same_day() -> None:
    due = datetime(2026, 3, 20, 9, 30, tzinfo=UTC)  # 16:30 in Vietnam
    outcomes = []
    for issued in (due, due + timedelta(minutes=1)):
        story = Story()
        receipt = story.received().model_copy(update={"appointment_at": due})
        state, _ = replay([receipt, story.result(at=issued)])
        assert state is not None
        outcomes.append((state.statutory_at, state.timeliness))
    moment = "2026-03-20T09:30:00.000000Z"  # fixed-width UTC text: text order is time order
    assert outcomes == [(moment, "on_time"), (moment, "late")]


def test_a_supplement_without_a_moment_makes_the_receipt_s_moment_stale() -> None:
    story = Story()
    due = datetime(2026, 3, 20, 9, 30, tzinfo=UTC)
    receipt = story.received().model_copy(update={"appointment_at": due})
    events = [receipt, story.supplement_requested(), story.supplement_provided(date(2026, 3, 25))]
    late_in_the_day = datetime(2026, 3, 25, 10, tzinfo=UTC)  # 17:00: a date alone, on time
    state, _ = replay([*events, story.result(at=late_in_the_day)])
    assert state is not None
    assert (state.statutory_date, state.statutory_at, state.timeliness) == (
        "2026-03-25",
        None,
        "on_time",
    )


def test_late_apologised_is_a_part_of_late_in_the_figures(stats: StatsApplication) -> None:
    marked, unmarked, plain_late, on_time = Story(), Story(), Story(), Story()
    after = datetime(2026, 3, 23, 3, tzinfo=UTC)
    live(
        stats,
        [
            marked.received(),
            marked.overdue("000.00.01.H01"),
            marked.apology(date(2026, 4, 3)),
            marked.result("on_time", at=after),
            unmarked.received(),
            unmarked.apology(date(2026, 4, 3)),
            unmarked.result("on_time", at=after),
            plain_late.received(),
            plain_late.result("late"),
            on_time.received(),
            on_time.result("on_time"),
        ],
    )
    totals = figures(stats).totals
    assert (totals["resolved_on_time"], totals["resolved_late"]) == (1, 3)
    assert totals["resolved_late_apologised"] == 2


def test_a_dossier_resolved_by_an_appointment_moved_by_a_supplement_is_on_time() -> None:
    story = Story()
    events = [
        story.received(),
        story.supplement_requested(),
        story.supplement_provided(date(2026, 3, 25)),
        story.result("on_time"),
    ]
    state, _ = replay(events)
    assert state is not None
    assert (state.status, state.timeliness) == ("resolved", "on_time")


OUTCOMES: dict[str, Callable[[Story], Envelope]] = {
    "rejected": Story.rejected,
    "withdrawn": Story.withdrawn,
    "early": lambda s: s.result("early"),
    "on_time": lambda s: s.result("on_time"),
    "late": lambda s: s.result("late"),
}


@pytest.mark.parametrize(
    ("last", "status", "timeliness"),
    [
        ("rejected", "refused", None),
        ("withdrawn", "withdrawn", None),
        ("early", "resolved", "early"),
        ("on_time", "resolved", "on_time"),
        ("late", "resolved", "late"),
    ],
)
def test_outcomes(last: str, status: str, timeliness: str | None) -> None:
    story = Story()
    state, _ = replay([story.received(), OUTCOMES[last](story)])
    assert state is not None
    assert (state.status, state.timeliness) == (status, timeliness)


def test_the_first_outcome_stands() -> None:
    story = Story()
    state, _ = replay([story.received(), story.result("early"), story.withdrawn()])
    assert state is not None
    assert (state.status, state.timeliness) == ("resolved", "early")


def test_fees_are_payments_net_of_refunds() -> None:
    story = Story()
    events = [story.received(), story.paid(100_000), story.paid(50_000), story.refunded(50_000)]
    state, _ = replay(events)
    assert state is not None
    assert state.fees_vnd == 100_000


def test_steps_are_counted_per_agency() -> None:
    story = Story(agency="A")
    state, agencies = replay(
        [
            story.received(),
            story.step_started("A", 0),
            story.step_completed("A", 0),
            story.step_started("B", 1),
            story.step_overdue("B", 1),
            story.step_completed("B", 1, late=True),
            story.step_started("A", 2),
            story.step_completed("A", 2),
        ]
    )
    assert state is not None
    a, b = agencies["A"], agencies["B"]
    assert (a.steps, a.steps_done, a.steps_late, a.steps_overdue) == (2, 2, 0, 0)
    assert (b.steps, b.steps_done, b.steps_late, b.steps_overdue) == (1, 1, 1, 1)
    assert (b.year, b.procedure_id, b.level, b.channel) == (2026, state.procedure_id, 3, "online")


def test_ratings_are_handled_once_the_contracts_define_them() -> None:
    assert handles("DossierRated") == ("DossierRated" in EVENT_TYPES)
    assert handles("ResultIssued")
    assert not handles("NoticeDelivered")


# -- figures over the store -------------------------------------------------------------


def stats_in(directory: Path) -> StatsApplication:
    directory.mkdir(parents=True, exist_ok=True)
    return StatsApplication(store_env(None, str(directory), "stats"))


@pytest.fixture
def stats(tmp_path: Path) -> StatsApplication:
    return stats_in(tmp_path)


def live(app: StatsApplication, events: list[Envelope]) -> None:
    """Apply events as the consumer would: decoded from their message, one write each."""
    for event in events:
        decoded = decode(encode(event))
        assert decoded is not None
        app.store.write(apply_event(decoded))


def figures(app: StatsApplication, today: date = TODAY, **filters: Any) -> Ytd:
    return app.ytd(year=YEAR, today=today, **filters)


def only(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


def test_each_outcome_is_counted_once(stats: StatsApplication) -> None:
    stories = [Story() for _ in range(8)]
    s = stories
    live(
        stats,
        [e.received() for e in s]
        + [s[0].result("early"), s[1].result("on_time"), s[2].result("late")]
        + [s[3].rejected(), s[4].withdrawn(), s[5].supplement_requested(), s[6].overdue("X")],
    )
    row = only(figures(stats).rows)
    expected = {
        "received": 8,
        "resolved_early": 1,
        "resolved_on_time": 1,
        "resolved_late": 1,
        "refused": 1,
        "withdrawn": 1,
        "in_progress_on_time": 2,  # the paused one and the untouched one
        "in_progress_overdue": 1,
        "paused_for_supplement": 1,
        "online_received": 8,
    }
    assert {k: row[k] for k in expected} == expected


def test_in_progress_is_overdue_after_the_appointment_unless_paused(
    stats: StatsApplication,
) -> None:
    waiting, paused, marked = Story(), Story(), Story()
    live(
        stats,
        [
            waiting.received(),
            paused.received(),
            paused.supplement_requested(),
            marked.received(),
            marked.overdue("B"),
            marked.apology(date(2026, 4, 30)),
        ],
    )
    on_the_day = only(figures(stats, today=date(2026, 3, 20)).rows)
    day_after = only(figures(stats, today=date(2026, 3, 21)).rows)
    assert (on_the_day["in_progress_on_time"], on_the_day["in_progress_overdue"]) == (2, 1)
    assert (day_after["in_progress_on_time"], day_after["in_progress_overdue"]) == (1, 2)


def test_in_progress_is_overdue_from_the_minute_after_the_appointment_s_moment(
    tmp_path: Path,
) -> None:
    """Without waiting for workflow's overdue mark: the figure follows the stats clock."""
    due = datetime(2026, 3, 20, 9, 30, tzinfo=UTC)  # 16:30 in Vietnam
    now = [due]
    app = StatsApplication(store_env(None, str(tmp_path), "stats"), clock=lambda: now[0])
    story = Story()
    live(app, [story.received().model_copy(update={"appointment_at": due})])

    split = []
    for moment in (due, due + timedelta(minutes=1)):
        now[0] = moment
        totals = app.ytd(year=YEAR).totals
        split.append((totals["in_progress_on_time"], totals["in_progress_overdue"]))

    assert split == [(1, 0), (0, 1)]


def test_an_inter_agency_dossier_counts_once_in_the_province_and_once_per_agency(
    stats: StatsApplication,
) -> None:
    story = Story(agency="A")
    live(
        stats,
        [
            story.received(),
            story.step_started("A", 0),
            story.step_completed("A", 0),
            story.step_started("B", 1),
            story.step_overdue("B", 1),
            story.overdue("B", "B"),
            story.step_completed("B", 1, late=True),
            story.step_started("C", 2),
            story.step_completed("C", 2),
            story.result("late"),
        ],
    )
    province = only(figures(stats).rows)
    assert (province["agency_code"], province["received"], province["resolved_late"]) == ("A", 1, 1)
    assert (province["steps"], province["steps_done"], province["steps_late"]) == (3, 3, 1)
    assert province["late_attributed"] == 0  # the receiving agency was not late

    by_agency = {r["agency_code"]: r for r in figures(stats, scope="agency").rows}
    assert sorted(by_agency) == ["A", "B", "C"]
    assert all(r["received"] == 1 and r["resolved_late"] == 1 for r in by_agency.values())
    own = {a: (r["steps_done"], r["steps_late"], r["steps_overdue"]) for a, r in by_agency.items()}
    assert own == {"A": (1, 0, 0), "B": (1, 1, 1), "C": (1, 0, 0)}
    assert {a: r["late_attributed"] for a, r in by_agency.items()} == {"A": 0, "B": 1, "C": 0}
    totals = figures(stats, scope="agency").totals
    assert (totals["received"], totals["late_attributed"], totals["steps"]) == (3, 1, 3)


def test_late_is_attributed_to_the_responsible_agency_only(stats: StatsApplication) -> None:
    story = Story(agency="B")
    live(stats, [story.received(), story.step_started("B"), story.overdue("B", "B", "C")])
    assert only(figures(stats).rows)["late_attributed"] == 1
    assert only(figures(stats, scope="agency").rows)["late_attributed"] == 1


def test_level_4_eligibility_starts_at_exactly_30_percent(stats: StatsApplication) -> None:
    def dossiers(procedure: str, level: int, online: int, total: int) -> list[Envelope]:
        online_first: list[Channel] = ["online", "counter"]
        channels = [online_first[i >= online] for i in range(total)]
        return [Story(procedure_id=procedure, level=level, channel=c).received() for c in channels]

    live(
        stats,
        dossiers("P30", 3, 3, 10)
        + dossiers("P27", 3, 3, 11)
        + dossiers("P29", 3, 29, 97)
        + dossiers("P4", 4, 5, 5),
    )
    result = figures(stats)
    by_id = {p["procedure_id"]: p for p in result.procedures}
    assert {k: (p["online_share"], p["eligible_for_level_4"]) for k, p in by_id.items()} == {
        "P30": (0.3, True),
        "P27": (0.2727, False),
        "P29": (0.299, False),
        "P4": (1.0, False),
    }
    rows = [r for r in result.rows if r["procedure_id"] == "P30"]
    assert {r["channel"] for r in rows} == {"online", "counter"}
    assert all(r["eligible_for_level_4"] is True and r["online_share"] == 0.3 for r in rows)
    # The share stays the procedure's when a channel is filtered out.
    counter_only = only(figures(stats, procedure_id="P30", channel="counter").rows)
    assert (counter_only["received"], counter_only["online_share"]) == (7, 0.3)


def test_fees_are_net_of_refunds_in_the_figures(stats: StatsApplication) -> None:
    paid, refunded = Story(), Story()
    live(
        stats,
        [
            paid.received(),
            paid.paid(150_000),
            refunded.received(),
            refunded.paid(200_000),
            refunded.withdrawn(),
            refunded.refunded(200_000),
        ],
    )
    result = figures(stats)
    assert only(result.rows)["fees_vnd"] == 150_000
    assert result.totals["fees_vnd"] == 150_000


def test_filters_and_the_year(stats: StatsApplication) -> None:
    live(
        stats,
        [
            Story(procedure_id="P1", agency="A", channel="online").received(),
            Story(procedure_id="P1", agency="B", channel="post").received(),
            Story(procedure_id="P2", agency="A", level=4, channel="counter").received(),
            Story(received_at=datetime(2025, 12, 1, 2, tzinfo=UTC)).received(),
        ],
    )
    assert figures(stats).totals["received"] == 3
    assert stats.ytd(year=2025, today=TODAY).totals["received"] == 1
    assert figures(stats, procedure_id="P1").totals["received"] == 2
    assert figures(stats, agency_code="A").totals["received"] == 2
    assert figures(stats, level=4).totals["received"] == 1
    assert figures(stats, channel="post").totals["received"] == 1
    assert figures(stats, agency_code="Z").rows == []


def test_ratings_give_a_count_and_an_average(stats: StatsApplication) -> None:
    stories = [Story() for _ in range(3)]
    live(stats, [s.received() for s in stories])
    assert (figures(stats).totals["ratings"], figures(stats).totals["average_rating"]) == (0, None)

    def rate(tx: Tx) -> None:
        for story, rating in zip(stories, (5, 4), strict=False):
            row = rm.load_dossier(tx, str(story.dossier_id))
            assert row is not None
            row.rating, row.rated_at = rating, "2026-03-10T02:00:00Z"
            rm.upsert_dossier(tx, row)

    stats.store.write(rate)
    row = only(figures(stats).rows)
    assert (row["ratings"], row["rating_sum"], row["average_rating"]) == (2, 9, 4.5)


# -- the consumer handler ---------------------------------------------------------------


def record(event: Envelope, offset: int) -> ConsumerRecord[bytes, bytes]:
    value = encode(event)
    headers = [("producer", event.producer.encode()), ("position", str(offset).encode())]
    return ConsumerRecord(
        "dossier-events", 0, offset, 0, 0, None, value, None, 0, len(value), headers
    )


def deliver(app: StatsApplication, events: list[Envelope], start: int = 0) -> None:
    """What ``TrackedConsumer`` does with the messages, without a broker: one batch."""
    consumer = offline_consumer(app, app.store, app.handlers(), "dossier-events", name="stats")
    consumer.apply_in_store([record(event, offset) for offset, event in enumerate(events, start)])


def test_handle_commits_the_rows_with_the_consumer_position(stats: StatsApplication) -> None:
    story = Story()
    events: list[Envelope] = [story.received(), story.step_started("A")]
    deliver(stats, events)

    deliver(stats, events[1:], start=1)  # the same message again: skipped, counted once

    assert only(figures(stats, scope="agency").rows)["steps"] == 1
    offsets = stats.store.read("SELECT next_offset FROM {consumer_offsets}")
    assert offsets == [{"next_offset": 2}]


# -- the replay -------------------------------------------------------------------------


def history(seed: int, dossiers: int) -> list[Envelope]:
    """Varied dossiers, their events interleaved as on the topic (in order per dossier)."""
    rng = random.Random(seed)
    lives = [_life(rng, i) for i in range(dossiers)]
    out: list[Envelope] = []
    while any(lives):
        life = rng.choice([x for x in lives if x])
        out.append(life.pop(0))
    return out


def _life(rng: random.Random, i: int) -> list[Envelope]:
    agencies = ["A", "B", "C", "D"][: rng.randint(1, 3)]
    story = Story(
        procedure_id=rng.choice(["P1", "P2", "P3"]),
        level=rng.choice([3, 4]),
        channel=rng.choice(CHANNELS),
        agency=agencies[0],
        received_at=START + timedelta(days=i % 15, hours=i % 7),
    )
    events: list[Envelope] = [story.received(), story.paid(rng.choice([0, 50_000, 120_000]))]
    for index, agency in enumerate(agencies):
        events.append(story.step_started(agency, index))
        if rng.random() < 0.2:
            events.append(story.step_overdue(agency, index))
        if rng.random() < 0.15:
            events += [story.supplement_requested(), story.supplement_provided(date(2026, 4, 2))]
        if rng.random() < 0.8:
            events.append(story.step_completed(agency, index, late=rng.random() < 0.3))
    if rng.random() < 0.2:
        events += [story.overdue(rng.choice(agencies)), story.apology(date(2026, 4, 20))]
    ending = rng.random()
    if ending < 0.5:
        events.append(story.result(rng.choice(TIMELINESS)))
    elif ending < 0.6:
        events.append(story.rejected())
    elif ending < 0.7:
        events += [story.withdrawn(), story.refunded(10_000)]
    return events


def messages(events: list[Envelope]) -> Iterator[dict[str, Any]]:
    """The events as a replay reads them: JSON of the Kafka messages, not validated."""
    for event in events:
        data: dict[str, Any] = json.loads(encode(event))
        yield data


def test_rebuild_gives_exactly_the_rows_of_the_live_consumer(tmp_path: Path) -> None:
    events = history(seed=7, dossiers=60)
    live_app = stats_in(tmp_path / "live")
    deliver(live_app, events)
    replayed = stats_in(tmp_path / "replay")
    stray = Story()
    again = [
        next(e for e in events if isinstance(e, cp.PaymentSucceeded) and e.amount_vnd),
        next(e for e in events if isinstance(e, wf.StepCompleted)),
    ]
    noise: list[dict[str, Any]] = [
        *messages(again),  # re-published by the relay after a crash: same event ids
        {"type": "SomethingNew", "event_id": str(uuid.uuid4()), "dossier_id": "x"},
        *messages([stray.step_started("A"), stray.result("early")]),  # never received
    ]
    report = replayed.rebuild([*messages(events), *noise])
    live_rows = tables(live_app)
    assert len(live_rows[0]) == 60
    assert len(live_rows[1]) > 60
    assert tables(replayed) == live_rows
    assert (report.events, report.dossiers) == (len(events) + len(noise), 60)
    assert report.applied == len(events)
    assert figures(replayed).table() == figures(live_app).table()


def test_rebuild_swaps_in_over_the_live_tables_and_the_consumer_goes_on(tmp_path: Path) -> None:
    events = history(seed=11, dossiers=25)
    app = stats_in(tmp_path)
    assert indexes(app) == INDEXES
    deliver(app, events[:-10])
    before = tables(app)
    app.rebuild(messages(events[:-10]))
    assert tables(app) == before
    app.rebuild(events[:-10])  # twice, and from contract events this time
    assert tables(app) == before
    deliver(app, events[-10:], start=len(events) - 10)
    reference = stats_in(tmp_path / "ref")
    reference.rebuild(messages(events))
    assert tables(app) == tables(reference)
    assert indexes(app) == INDEXES


INDEXES = [
    "stats_agency_steps_by_year",
    "stats_dossiers_by_year",
    "stats_facts_by_outcome",
    "stats_facts_by_receipt",
]


def indexes(app: StatsApplication) -> list[str]:
    rows = app.store.read(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'stats_%'"
    )
    return sorted(r["name"] for r in rows)


def test_rebuild_reports_progress(stats: StatsApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.stats.application.PROGRESS_EVERY", 10)
    events = history(seed=3, dossiers=5)
    seen: list[int] = []
    stats.rebuild(messages(events), seen.append)
    n = len(events)
    assert n % 10
    assert seen == [*range(10, n + 1, 10), n]


def test_rebuild_writes_its_positions_with_the_swap(stats: StatsApplication) -> None:
    def position(tx: Tx) -> None:
        tx.execute("CREATE TABLE IF NOT EXISTS {replayed_to} (next_offset INTEGER)")
        tx.execute("INSERT INTO {replayed_to} VALUES (?)", (42,))

    stats.rebuild(messages(history(seed=5, dossiers=3)), writes=[position])
    assert stats.store.read("SELECT next_offset FROM {replayed_to}") == [{"next_offset": 42}]


@pytest.mark.postgres
def test_rebuild_and_live_agree_on_postgres(postgres: Postgres) -> None:
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    events = history(seed=13, dossiers=30)
    app = StatsApplication(store_env(url, "unused", "stats"))
    deliver(app, events)
    live_rows = tables(app)
    app.rebuild(messages(events))
    app.rebuild(messages(events))
    assert tables(app) == live_rows
    story = Story()
    deliver(app, [story.received(), story.step_started("A")], start=len(events))
    assert figures(app).totals["received"] == 31
    steps_before = sum(int(r["steps"]) for r in live_rows[1])
    assert figures(app, scope="agency").totals["steps"] == steps_before + 1


# -- files and the API ------------------------------------------------------------------


def parsed_numbers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as text, the way CSV and spreadsheets give them back."""
    return [{c: "" if r[c] is None else str(r[c]) for c in COLUMNS} for r in rows]


def example(app: StatsApplication) -> None:
    a, b, c = Story(agency="A"), Story(agency="A", channel="counter"), Story(procedure_id="P9")
    live(
        app,
        [
            a.received(),
            a.step_started("A"),
            a.step_started("B", 1),
            a.paid(30_000),
            a.result("early"),
            b.received(),
            b.overdue("A"),
            c.received(),
            c.rejected(),
        ],
    )


def test_csv_reads_back_to_the_same_figures(stats: StatsApplication) -> None:
    example(stats)
    result = figures(stats)
    text = to_csv(result).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(COLUMNS)
    assert rows == parsed_numbers(result.table())
    assert rows[-1]["kind"] == "total"
    assert rows[-1]["received"] == "3"


def test_xlsx_reads_back_to_the_same_figures(stats: StatsApplication) -> None:
    example(stats)
    result = figures(stats, scope="agency")
    book = load_workbook(io.BytesIO(to_xlsx(result)))
    header, *values = list(book["ytd"].iter_rows(values_only=True))
    assert header == COLUMNS
    assert [dict(zip(COLUMNS, v, strict=True)) for v in values] == result.table()
    procedures = list(book["procedures"].iter_rows(values_only=True))[1:]
    assert [dict(zip(COLUMNS, v, strict=True)) for v in procedures] == result.procedures


@pytest.fixture
def served(tmp_path: Path) -> FastAPI:
    clock = tmp_path / "clock"
    clock.write_text("2026-03-20T10:00:00+07:00")
    app = create_app(Settings(var_dir=tmp_path, clock_file=clock))
    example(app.state.stats)
    return app


@pytest.fixture
def client(served: FastAPI) -> TestClient:
    return TestClient(served)  # no lifespan: no broker needed


def test_api_json_is_public_and_matches_the_figures(served: FastAPI, client: TestClient) -> None:
    answer = client.get("/v1/stats/ytd")
    assert answer.status_code == 200
    body = answer.json()
    expected = served.state.stats.ytd(year=YEAR, today=TODAY)
    assert (body["year"], body["today"], body["scope"]) == (2026, "2026-03-20", "province")
    assert body["rows"] == expected.rows
    assert body["totals"] == expected.totals
    assert body["procedures"] == expected.procedures
    agency = client.get("/v1/stats/ytd", params={"scope": "agency", "agency_code": "B"}).json()
    assert [(r["agency_code"], r["steps"]) for r in agency["rows"]] == [("B", 1)]


def test_api_csv_and_xlsx(client: TestClient) -> None:
    body = client.get("/v1/stats/ytd").json()
    csv_answer = client.get("/v1/stats/ytd", params={"format": "csv"})
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_answer.content.decode("utf-8-sig"))))
    assert rows == parsed_numbers([*body["rows"], body["totals"]])
    xlsx = client.get("/v1/stats/ytd", params={"format": "xlsx", "year": 2026})
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(xlsx.content))["ytd"]
    values = list(sheet.iter_rows(values_only=True))[1:]
    assert [dict(zip(COLUMNS, v, strict=True)) for v in values] == [*body["rows"], body["totals"]]


def test_api_rejects_unknown_choices(client: TestClient) -> None:
    for params in ({"scope": "nation"}, {"format": "pdf"}, {"level": "7"}, {"channel": "fax"}):
        answer = client.get("/v1/stats/ytd", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["error"]["code"] == "invalid_request"


def test_the_public_page(served: FastAPI, client: TestClient) -> None:
    stats: StatsApplication = served.state.stats
    tricky = Story(procedure_id="P<x>", procedure_name="Thủ tục <script>alert(1)</script>")
    live(stats, [tricky.received()])
    page = client.get("/stats")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Thống kê kết quả giải quyết thủ tục hành chính năm 2026" in html
    assert "đến 20/03/2026" in html
    assert "Cấp giấy phép xây dựng" in html
    assert "Thủ tục &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert "http://" not in html
    assert "https://" not in html
    assert 'name="viewport"' in html
    assert "Đủ điều kiện nâng lên mức độ 4" in html  # 1 online of 2 at level 3
    assert "30.000 đ" in html
    assert "width: 50.0%" in html  # one of two resolved early


def test_the_public_page_of_a_year_without_dossiers(client: TestClient) -> None:
    page = client.get("/stats", params={"year": 2024})
    assert page.status_code == 200
    assert "Chưa có hồ sơ nào được tiếp nhận trong năm 2024" in page.text
