"""The service index of Decision 766/QĐ-TTg: per agency, as of the period's end, by hand.

The expected figures are counted by hand from a few dossiers around March 2026 (see
``around_march``), not from the code under test.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.envelope import Envelope
from contracts.intake import DossierRated, FeedbackAnswered, FeedbackSent
from contracts.payment import PaymentMethod, PaymentSucceeded
from contracts.workflow import ResultIssued, Timeliness
from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from services.catalogue.procedures import load_catalogue
from services.stats.api import render_page
from services.stats.application import StatsApplication
from services.stats.facts import instant
from services.stats.main import create_app
from services.stats.periods import parse_period
from services.stats.service_index import (
    FEEDBACK_ANSWER_WORKING_DAYS,
    RATES,
    ServiceIndex,
    answered_in_time,
)
from tests.support.processes import Postgres
from tests.unit.test_stats import Story, live, messages
from tests.unit.test_stats_reports import (
    BIRTH,
    COMMUNE,
    LAND,
    LAND_OFFICE,
    Clock,
    app_in,
    at,
    story,
    vn,
)


def result(s: Story, timeliness: Timeliness, kind: str) -> ResultIssued:
    return s.result(timeliness).model_copy(update={"kind": kind})


def paid(s: Story, method: PaymentMethod) -> PaymentSucceeded:
    return s.paid(50_000).model_copy(update={"method": method})


def rated(s: Story, rating: int) -> DossierRated:
    return DossierRated(**s.envelope(), rating=rating, rated_by=None)


@dataclass
class Feedback:
    s: Story
    feedback_id: uuid.UUID

    def sent(self) -> FeedbackSent:
        return FeedbackSent(
            **self.s.envelope(),
            feedback_id=self.feedback_id,
            kind="feedback",
            text="?",
            sent_by=None,
        )

    def answered(self) -> FeedbackAnswered:
        return FeedbackAnswered(
            **self.s.envelope(),
            feedback_id=self.feedback_id,
            answer="Đã xử lý",
            agency_code=self.s.agency,
            answered_by="officer-1",
        )


@dataclass
class Months:
    march: list[Envelope]
    later: list[Envelope]


def around_march() -> Months:
    """Commune: a (online, early, electronic, paid online, rated 5, feedback answered in
    exactly 10 working days), b (counter, late, pickup, paid at the counter, rated 3,
    feedback answered in 11 working days), c (received in February, on time, electronic,
    paid in February, rated 4 in March, feedback sent in March answered in April), d
    (received on 30 March, everything else in April). Land office: e (post, open, paid by
    bank transfer), f (online, on time, pickup)."""
    a = story("2026-03-02", "2026-03-20")
    b = story("2026-03-03", "2026-03-20", channel="counter")
    c = story("2026-02-25", "2026-03-11")
    d = story("2026-03-30", "2026-04-15")
    e = story("2026-03-04", "2026-03-25", channel="post", procedure_id=LAND, agency=LAND_OFFICE)
    f = story("2026-03-05", "2026-03-20", procedure_id=LAND, agency=LAND_OFFICE)
    fa, fb, fc = (Feedback(s, uuid.uuid4()) for s in (a, b, c))
    march: list[Envelope] = [
        c.received(),
        at(c, vn("2026-02-26"), lambda: paid(c, "online")),
        a.received(),
        at(a, vn("2026-03-03"), lambda: paid(a, "online")),
        at(a, vn("2026-03-05"), lambda: result(a, "early", "electronic")),
        at(a, vn("2026-03-06"), lambda: rated(a, 5)),
        at(a, vn("2026-03-06", 10), fa.sent),  # a Friday
        at(a, vn("2026-03-20", 16), fa.answered),  # the 10th working day after it
        b.received(),
        at(b, vn("2026-03-04"), lambda: paid(b, "counter")),
        at(b, vn("2026-03-09"), fb.sent),  # a Monday
        at(b, vn("2026-03-24"), fb.answered),  # the 11th working day after it
        result(b, "late", "pickup"),  # 10:00 on 21 March, the day after the appointment
        at(b, vn("2026-03-22"), lambda: rated(b, 3)),
        result(c, "on_time", "electronic"),  # 10:00 on 11 March
        at(c, vn("2026-03-12"), lambda: rated(c, 4)),
        at(c, vn("2026-03-27"), fc.sent),
        e.received(),
        at(e, vn("2026-03-05"), lambda: paid(e, "bank_transfer")),
        f.received(),
        result(f, "on_time", "pickup"),  # 10:00 on 20 March
        d.received(),
    ]
    later: list[Envelope] = [
        at(d, vn("2026-04-01"), lambda: paid(d, "online")),
        at(d, vn("2026-04-02"), lambda: result(d, "early", "electronic")),
        at(d, vn("2026-04-03"), lambda: rated(d, 1)),
        at(c, vn("2026-04-02"), fc.answered),
        at(e, vn("2026-04-06"), lambda: result(e, "early", "electronic")),
    ]
    return Months(march, later)


def r(numerator: int, denominator: int) -> dict[str, Any]:
    return {
        "numerator": numerator,
        "denominator": denominator,
        "rate": numerator / denominator if denominator else None,
    }


MARCH_COMMUNE = {
    "on_time": r(2, 3),  # a early, c on time; b late
    "online_received": r(2, 3),  # a, d online; b at the counter (c was February's)
    "electronic_results": r(2, 3),  # a, c electronic; b for pickup
    "online_payments": r(1, 2),  # a online, b at the counter (c paid in February)
    "satisfied": r(2, 3),  # 5 and 4 of 5, 3, 4
    "average_rating": 4.0,  # (5 + 3 + 4) / 3
    "feedback_answered": r(2, 3),  # a's and b's; c's answered only in April
    "feedback_on_time": r(1, 3),  # a's in 10 working days; b's in 11
}
MARCH_LAND = {
    "on_time": r(1, 1),
    "online_received": r(1, 2),  # f online, e by post
    "electronic_results": r(0, 1),  # f for pickup
    "online_payments": r(0, 1),  # e by bank transfer
    "satisfied": r(0, 0),  # no rating: null, not a division by zero
    "average_rating": None,
    "feedback_answered": r(0, 0),
    "feedback_on_time": r(0, 0),
}
MARCH_TOTALS = {
    "on_time": r(3, 4),
    "online_received": r(3, 5),
    "electronic_results": r(2, 4),
    "online_payments": r(1, 3),
    "satisfied": r(2, 3),
    "average_rating": 4.0,
    "feedback_answered": r(2, 3),
    "feedback_on_time": r(1, 3),
}


def figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("key", "label")}


def as_dict(index: ServiceIndex) -> dict[str, Any]:
    return {
        "rows": index.rows,
        "totals": index.totals,
        "as_of": index.as_of,
        "complete": index.complete,
    }


def by_agency(index: ServiceIndex) -> dict[str | None, dict[str, Any]]:
    return {row["key"]: figures(row) for row in [*index.rows, index.totals]}


def test_march_per_agency_as_counted_by_hand(tmp_path: Path) -> None:
    stats = app_in(tmp_path, Clock(vn("2026-04-01", 8)))
    live(stats, around_march().march)
    index = stats.service_index(parse_period("2026-03"))
    assert index.complete
    assert by_agency(index) == {
        COMMUNE: MARCH_COMMUNE,
        LAND_OFFICE: MARCH_LAND,
        None: MARCH_TOTALS,
    }
    names = {row["key"]: row["label"] for row in index.rows}
    assert names[COMMUNE] == load_catalogue().require(BIRTH).receiving_agency.name
    assert names[LAND_OFFICE] == load_catalogue().require(LAND).receiving_agency.name
    assert index.totals["label"] == "Toàn tỉnh"


def test_later_events_change_nothing_in_march_and_count_in_april(tmp_path: Path) -> None:
    months = around_march()
    clock = Clock(vn("2026-04-01", 8))
    stats = app_in(tmp_path, clock)
    live(stats, months.march)
    march = stats.service_index(parse_period("2026-03"))

    live(stats, months.later)  # d resolved, paid and rated; c's feedback answered; e resolved
    clock.now = vn("2027-01-15")
    again = stats.service_index(parse_period("2026-03"))
    assert as_dict(again) == as_dict(march)
    by_dates = stats.service_index(parse_period(None, date(2026, 3, 1), date(2026, 3, 31)))
    assert by_dates.rows == march.rows

    april = by_agency(stats.service_index(parse_period("2026-04")))
    assert april[COMMUNE]["electronic_results"] == r(1, 1)  # d
    assert april[COMMUNE]["online_payments"] == r(1, 1)
    assert (april[COMMUNE]["satisfied"], april[COMMUNE]["average_rating"]) == (r(0, 1), 1.0)
    assert april[COMMUNE]["online_received"] == r(0, 0)  # nothing received in April
    assert april[COMMUNE]["feedback_answered"] == r(0, 0)  # c's was sent in March
    assert april[LAND_OFFICE]["on_time"] == r(0, 1)  # e, due on 25 March: late
    quarter = by_agency(stats.service_index(parse_period("2026-Q1")))
    assert quarter[COMMUNE]["online_received"] == r(3, 4)  # c in February, online
    assert quarter[COMMUNE]["online_payments"] == r(2, 3)  # c's February payment


def test_a_month_not_over_is_as_of_now(tmp_path: Path) -> None:
    clock = Clock(vn("2026-03-21", 8))
    stats = app_in(tmp_path, clock)
    live(stats, [e for e in around_march().march if e.occurred_at <= clock.now])
    index = by_agency(stats.service_index(parse_period("2026-03")))
    # b's result (10:00 on the 21st) has not happened; b's feedback is not answered yet.
    assert index[COMMUNE]["on_time"] == r(2, 2)
    assert index[COMMUNE]["feedback_answered"] == r(1, 2)
    assert index[COMMUNE]["satisfied"] == r(2, 2)


@pytest.mark.parametrize(
    ("sent", "answered", "in_time"),
    [
        (vn("2026-03-06"), vn("2026-03-20", 16), True),  # 10 working days
        (vn("2026-03-06"), vn("2026-03-23"), False),  # 11
        (vn("2026-03-09"), vn("2026-03-09", 11), True),  # the same day
        # 30 April and 1 May are holidays: 9 working days, though 15 calendar days.
        (vn("2026-04-28"), vn("2026-05-13"), True),
    ],
)
def test_feedback_is_answered_in_time_within_the_working_days(
    sent: datetime, answered: datetime, in_time: bool
) -> None:
    assert FEEDBACK_ANSWER_WORKING_DAYS == 10
    assert answered_in_time(instant(sent), instant(answered)) is in_time


def test_a_replay_gives_the_same_index(tmp_path: Path) -> None:
    months = around_march()
    events = months.march + months.later
    clock = Clock(vn("2026-06-01"))
    live_app, replayed = app_in(tmp_path / "live", clock), app_in(tmp_path / "replay", clock)
    live(live_app, events)
    replayed.rebuild(messages(events))
    for period in ("2026-03", "2026-04", "2026-Q1"):
        assert as_dict(replayed.service_index(parse_period(period))) == as_dict(
            live_app.service_index(parse_period(period))
        )


@pytest.mark.postgres
def test_the_index_on_postgres(postgres: Postgres) -> None:
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    clock = Clock(vn("2026-04-01", 8))
    stats = StatsApplication(store_env(url, "unused", "stats"), clock=clock)
    months = around_march()
    live(stats, months.march)
    march = stats.service_index(parse_period("2026-03"))
    assert by_agency(march) == {COMMUNE: MARCH_COMMUNE, LAND_OFFICE: MARCH_LAND, None: MARCH_TOTALS}
    live(stats, months.later)
    clock.now = vn("2026-06-01")
    assert as_dict(stats.service_index(parse_period("2026-03"))) == as_dict(march)


# -- the API and the page ---------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    clock_file = tmp_path / "clock"
    clock_file.write_text("2026-04-01T08:00:00+07:00")
    app = create_app(Settings(var_dir=tmp_path, clock_file=clock_file))
    live(app.state.stats, around_march().march)
    return TestClient(app)  # no lifespan: no broker needed


def test_api_json_is_public_and_is_the_index(client: TestClient) -> None:
    answer = client.get("/v1/stats/index", params={"period": "2026-03"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["period"], body["first_day"], body["last_day"], body["complete"]) == (
        "2026-03",
        "2026-03-01",
        "2026-03-31",
        True,
    )
    assert body["feedback_limit_working_days"] == FEEDBACK_ANSWER_WORKING_DAYS
    shown = {row["key"]: figures(row) for row in [*body["rows"], body["totals"]]}
    assert shown == {COMMUNE: MARCH_COMMUNE, LAND_OFFICE: MARCH_LAND, None: MARCH_TOTALS}


def test_api_csv_has_each_rate_s_numerator_and_denominator(client: TestClient) -> None:
    answer = client.get("/v1/stats/index", params={"period": "2026-03", "format": "csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="chi-so-phuc-vu-2026-03.csv"' in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert header[:2] == ["Cơ quan tiếp nhận", "Mã"]
    assert [row[1] for row in rows] == [LAND_OFFICE, COMMUNE, ""]  # codes in order, then all
    land, commune, total = (dict(zip(header, row, strict=True)) for row in rows)
    on_time = "Giải quyết trước hạn, đúng hạn"
    assert (commune[f"{on_time}: Tử số"], commune[f"{on_time}: Mẫu số"]) == ("2", "3")
    assert float(commune[f"{on_time}: Tỷ lệ"]) == pytest.approx(2 / 3)
    assert land["Đánh giá hài lòng (4–5 điểm): Tỷ lệ"] == ""  # null: no rating
    assert total["Cơ quan tiếp nhận"] == "Toàn tỉnh"
    assert total["Điểm hài lòng bình quân (1–5)"] == "4.0"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "2026-13"}, "unknown month"),
        ({"period": "last month"}, "unknown period"),
        ({"from": "2026-03-31", "to": "2026-03-01"}, "is before from"),
        ({"from": "2026-03-01"}, "give period"),
        ({"period": "2027-01"}, "not started"),
    ],
)
def test_api_bad_periods_are_422_with_the_reason(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    answer = client.get("/v1/stats/index", params=params)
    assert answer.status_code == 422
    assert message in answer.json()["error"]["message"]


def test_api_unknown_format_is_422(client: TestClient) -> None:
    answer = client.get("/v1/stats/index", params={"period": "2026-03", "format": "xlsx"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


def test_the_page_shows_this_month_s_index_and_a_dash_for_a_null_rate(tmp_path: Path) -> None:
    stats = app_in(tmp_path, Clock(vn("2026-03-31", 20)))
    live(stats, around_march().march)
    index = stats.service_index(parse_period("2026-03"))
    page = render_page(stats.ytd(year=2026), index)
    assert "Chỉ số phục vụ người dân, doanh nghiệp (Quyết định 766/QĐ-TTg)" in page
    assert '<section class="index" data-index="2026-03">' in page
    assert "số liệu tạm tính" in page  # the month is not over at 20:00 on the 31st
    land = page[page.index(f'data-agency="{LAND_OFFICE}"') :]
    land = land[: land.index("</article>")]
    assert '<dd data-figure="satisfied"><span data-part="numerator">0</span>' in land
    assert '<span data-part="rate">—</span>' in land
    assert '<dd data-figure="average_rating">—</dd>' in land
    assert '<span data-part="rate">50,0%</span>' in land  # online received: 1 of 2
    assert len(RATES) == land.count('data-part="rate"')
