"""Stats' periodic reports: periods, the as-of property, groupings, the replay, migration."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from contracts.envelope import Applicant, Channel, Envelope
from contracts.intake import DossierIntakeRefused, DossierSubmitted
from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from services.catalogue.procedures import load_catalogue
from services.stats import readmodel as rm
from services.stats.application import StatsApplication
from services.stats.facts import instant
from services.stats.main import create_app
from services.stats.migrations import STATS
from services.stats.periods import Period, PeriodError, parse_period
from services.stats.reports import COUNTS, Report
from tests.support.processes import Postgres
from tests.unit.test_stats import Story, live, messages

BIRTH, MARITAL, LAND = "1.001193", "1.004873", "1.004227"  # Hộ tịch, Hộ tịch, Đất đai
COMMUNE, LAND_OFFICE = "001.20.51.H23", "000.00.31.H23"


def vn(day: str, hour: int = 9) -> datetime:
    """``hour`` o'clock in Vietnam on ``day``, as an aware UTC moment."""
    d = date.fromisoformat(day)
    return datetime(d.year, d.month, d.day, hour - 7, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def app_in(directory: Path, clock: Clock) -> StatsApplication:
    directory.mkdir(parents=True, exist_ok=True)
    env = store_env(None, str(directory), "stats")
    return StatsApplication(env, clock=clock, catalogue=load_catalogue())


def story(day: str, appointment: str, **kw: Any) -> Story:
    kw.setdefault("procedure_id", BIRTH)
    kw.setdefault("agency", COMMUNE)
    kw.setdefault("level", load_catalogue().require(kw["procedure_id"]).level)
    return Story(received_at=vn(day), appointment=date.fromisoformat(appointment), **kw)


def at(s: Story, when: datetime, make: Callable[[], Envelope]) -> Envelope:
    """An event of ``s`` that happened at ``when`` (its occurred_at)."""
    s.clock = when - timedelta(minutes=1)
    return make()


def submitted(s: Story) -> DossierSubmitted:
    return DossierSubmitted(
        **{**s.envelope(), "producer": "intake"},
        procedure_id=s.procedure_id,
        procedure_name=s.procedure_name,
        level=s.level,
        agency_code=s.agency,
        channel=s.channel,
        applicant=Applicant(account="citizen-1", full_name="NGUYỄN VĂN A", id_number="0" * 12),
        form_data={},
        documents=(),
        submitted_by="citizen-1",
    )


def intake_refused(s: Story) -> DossierIntakeRefused:
    return DossierIntakeRefused(
        **{**s.envelope(), "producer": "intake"}, reason="sai thủ tục", refused_by="officer-1"
    )


@dataclass
class Months:
    """Dossiers around March 2026: the events up to its end, and those after it."""

    march: list[Envelope]
    later: list[Envelope]


def around_march() -> Months:
    carried_resolved = story("2026-02-25", "2026-03-11")
    carried_open = story("2026-02-26", "2026-04-10", channel="counter")
    early = story("2026-03-02", "2026-03-20", procedure_id=MARITAL)
    paused = story("2026-03-03", "2026-03-24", channel="counter")
    overdue = story(
        "2026-03-04", "2026-03-20", channel="post", procedure_id=LAND, agency=LAND_OFFICE
    )
    apologised = story("2026-03-05", "2026-03-20")
    withdrawn, rejected = story("2026-03-06", "2026-03-30"), story("2026-03-06", "2026-03-30")
    refused = story("2026-03-07", "2026-03-30")
    fresh = story("2026-03-30", "2026-04-15")
    april = story("2026-04-02", "2026-04-20")
    march: list[Envelope] = [
        carried_resolved.received(),
        carried_open.received(),
        at(carried_resolved, vn("2026-03-10"), carried_resolved.result),
        early.received(),
        at(early, vn("2026-03-05"), lambda: early.result("early", kind="post")),
        paused.received(),
        at(paused, vn("2026-03-10"), paused.supplement_requested),
        overdue.received(),
        apologised.received(),
        at(apologised, vn("2026-03-21"), lambda: apologised.overdue(COMMUNE)),
        at(apologised, vn("2026-03-21", 10), lambda: apologised.apology(date(2026, 3, 27))),
        # After the statutory appointment, before the apologised date: late.
        at(apologised, vn("2026-03-25"), lambda: apologised.result("on_time", at=vn("2026-03-25"))),
        withdrawn.received(),
        at(withdrawn, vn("2026-03-09"), withdrawn.withdrawn),
        rejected.received(),
        at(rejected, vn("2026-03-12"), rejected.rejected),
        at(refused, vn("2026-03-07"), lambda: submitted(refused)),
        at(refused, vn("2026-03-08"), lambda: intake_refused(refused)),
        fresh.received(),
    ]
    later: list[Envelope] = [
        at(overdue, vn("2026-04-01"), lambda: overdue.overdue(LAND_OFFICE)),
        at(carried_open, vn("2026-04-01"), lambda: carried_open.result("early")),
        at(paused, vn("2026-04-02"), lambda: paused.supplement_provided(date(2026, 4, 10))),
        at(paused, vn("2026-04-03"), lambda: paused.result("early")),
        april.received(),
        at(overdue, vn("2026-04-05"), lambda: overdue.result("late")),
        at(fresh, vn("2026-04-06"), fresh.withdrawn),
    ]
    return Months(march, later)


def as_dict(r: Report) -> dict[str, Any]:
    return {"rows": r.rows, "totals": r.totals, "as_of": r.as_of, "complete": r.complete}


MARCH_TOTALS = {
    "carried_over": 2,
    "received": 7,
    "received_online": 5,
    "received_counter": 1,
    "received_post": 1,
    "resolved": 3,
    "resolved_early": 1,
    "resolved_on_time": 1,
    "resolved_late": 1,
    "resolved_late_apologised": 1,
    "resolved_by_post": 1,
    "open_on_time": 2,  # carried over and still in time; received on the 30th
    "open_overdue": 1,  # its appointment passed on the 20th, marked only in April
    "paused": 1,
    "withdrawn": 1,
    "refused": 2,
    "refused_at_intake": 1,
    "rejected": 1,
}


def balanced(row: dict[str, Any]) -> bool:
    ins = sum(row[c] for c in ("carried_over", "received"))
    outs = ("resolved", "withdrawn", "rejected", "open_on_time", "open_overdue", "paused")
    return bool(ins == sum(row[c] for c in outs))


# -- periods ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-03", "2026-03-01", "2026-03-31"),
        ("2026-02", "2026-02-01", "2026-02-28"),
        ("2026-12", "2026-12-01", "2026-12-31"),
        ("2026-Q1", "2026-01-01", "2026-03-31"),
        ("2026-Q4", "2026-10-01", "2026-12-31"),
        ("2026-H1", "2026-01-01", "2026-06-30"),
        ("2026-H2", "2026-07-01", "2026-12-31"),
        ("2026", "2026-01-01", "2026-12-31"),
    ],
)
def test_named_periods(text: str, first: str, last: str) -> None:
    period = parse_period(text)
    assert (period.first.isoformat(), period.last.isoformat()) == (first, last)


def test_a_period_runs_from_local_midnight_to_local_midnight() -> None:
    period = parse_period(None, date(2026, 3, 1), date(2026, 3, 31))
    assert period == Period("2026-03-01..2026-03-31", date(2026, 3, 1), date(2026, 3, 31))
    assert (period.start, period.end) == (
        "2026-02-28T17:00:00.000000Z",
        "2026-03-31T17:00:00.000000Z",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2026-13",), "unknown month"),
        (("2026-Q5",), "unknown period"),
        (("March",), "unknown period"),
        (("1999",), "outside"),
        ((None, date(2026, 3, 31), date(2026, 3, 1)), "is before from"),
        ((None, date(2026, 3, 1), None), "give period"),
        (("2026-03", date(2026, 3, 1), None), "not both"),
    ],
)
def test_bad_periods_say_what_was_expected(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(*args)


# -- the report -------------------------------------------------------------------------


def test_a_month_s_report_is_as_of_its_end_and_later_events_do_not_change_it(
    tmp_path: Path,
) -> None:
    months = around_march()
    clock = Clock(vn("2026-04-01", 8))
    stats = app_in(tmp_path, clock)
    live(stats, months.march)
    march = stats.report(parse_period("2026-03"))
    assert march.complete
    assert {c: march.totals[c] for c in COUNTS} == MARCH_TOTALS
    assert all(balanced(r) for r in [*march.rows, march.totals])

    live(stats, months.later)  # a resolution of a dossier open at the end, a late mark, …
    clock.now = vn("2027-01-15")
    again = stats.report(parse_period("2026-03"))
    assert as_dict(again) == as_dict(march)
    by_dates = stats.report(parse_period(None, date(2026, 3, 1), date(2026, 3, 31)))
    assert by_dates.rows == march.rows

    april = stats.report(parse_period("2026-04")).totals
    assert (april["carried_over"], april["received"]) == (4, 1)  # what March left open
    assert (april["resolved"], april["resolved_late"], april["withdrawn"]) == (3, 1, 1)
    assert (april["open_on_time"], april["open_overdue"]) == (0, 1)  # due on the 20th
    assert balanced(april)


def test_the_apologised_dossier_is_late_in_the_report_and_the_year_to_date(
    tmp_path: Path,
) -> None:
    stats = app_in(tmp_path, Clock(vn("2026-04-01")))
    live(stats, around_march().march)
    ytd = stats.ytd(year=2026, today=date(2026, 3, 31)).totals
    assert (ytd["resolved_late"], ytd["resolved_late_apologised"]) == (1, 1)
    row = next(r for r in stats.report(parse_period("2026-03")).rows if r["key"] == BIRTH)
    assert (row["resolved_late"], row["resolved_late_apologised"], row["resolved_on_time"]) == (
        1,
        1,
        1,
    )


def test_a_period_not_over_is_reported_as_of_now(tmp_path: Path) -> None:
    clock = Clock(vn("2026-03-21", 8))
    stats = app_in(tmp_path, clock)
    live(stats, [e for e in around_march().march if e.occurred_at <= clock.now])
    report = stats.report(parse_period("2026-03"))
    assert not report.complete
    assert report.as_of == instant(clock.now + timedelta(microseconds=1))  # now included
    # Due on the 20th and still open on the 21st: overdue, as the year-to-date says too.
    assert report.totals["open_overdue"] == 2
    assert stats.ytd(year=2026, today=date(2026, 3, 21)).totals["in_progress_overdue"] == 2
    with pytest.raises(PeriodError, match="not started"):
        stats.report(parse_period("2026-05"))


def test_a_paused_dossier_is_not_overdue_and_resumes_with_its_moved_appointment(
    tmp_path: Path,
) -> None:
    s = story("2026-03-02", "2026-03-10")
    stats = app_in(tmp_path, Clock(vn("2026-06-01")))
    live(
        stats,
        [
            s.received(),
            at(s, vn("2026-03-05"), s.supplement_requested),
            at(s, vn("2026-04-06"), lambda: s.supplement_provided(date(2026, 4, 14))),
        ],
    )
    march, april = (stats.report(parse_period(p)).totals for p in ("2026-03", "2026-04"))
    assert (march["paused"], march["open_overdue"]) == (1, 0)
    assert (april["paused"], april["open_on_time"], april["open_overdue"]) == (0, 0, 1)
    to_the_13th = stats.report(parse_period(None, date(2026, 4, 1), date(2026, 4, 13))).totals
    assert (to_the_13th["open_on_time"], to_the_13th["open_overdue"]) == (1, 0)


@pytest.mark.parametrize(
    ("by", "keys"),
    [
        ("procedure", [BIRTH, LAND, MARITAL]),
        ("field", ["Hộ tịch", "Đất đai"]),
        ("agency", [LAND_OFFICE, COMMUNE]),
        ("level", [2, 4]),
        ("channel", ["counter", "online", "post"]),
    ],
)
def test_each_grouping_adds_up_to_the_same_totals(tmp_path: Path, by: str, keys: list[Any]) -> None:
    stats = app_in(tmp_path, Clock(vn("2026-04-01")))
    live(stats, around_march().march)
    report = stats.report(parse_period("2026-03"), by)  # type: ignore[arg-type]
    assert sorted(r["key"] for r in report.rows) == sorted(keys)
    assert {c: report.totals[c] for c in COUNTS} == MARCH_TOTALS
    assert all(balanced(r) for r in report.rows)
    labels = {r["key"]: r["label"] for r in report.rows}
    expected = {
        "procedure": (BIRTH, "Cấp giấy phép xây dựng"),  # the events' own name
        "field": ("Hộ tịch", "Hộ tịch"),
        "agency": (COMMUNE, load_catalogue().require(BIRTH).receiving_agency.name),
        "level": (4, "Mức độ 4"),
        "channel": ("post", "Bưu chính"),
    }[by]
    assert labels[expected[0]] == expected[1]


def test_a_replay_rebuilds_the_facts_and_gives_the_same_report(tmp_path: Path) -> None:
    months = around_march()
    events = months.march + months.later
    clock = Clock(vn("2026-06-01"))
    live_app, replayed = app_in(tmp_path / "live", clock), app_in(tmp_path / "replay", clock)
    live(live_app, events)
    replayed.rebuild(messages(events))
    for period in ("2026-03", "2026-04", "2026-Q1", "2026-H1"):
        assert as_dict(replayed.report(parse_period(period))) == as_dict(
            live_app.report(parse_period(period))
        )


@pytest.mark.postgres
def test_the_report_on_postgres(postgres: Postgres) -> None:
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    clock = Clock(vn("2026-04-01", 8))
    stats = StatsApplication(store_env(url, "unused", "stats"), clock=clock)
    months = around_march()
    live(stats, months.march)
    march = stats.report(parse_period("2026-03"), "level")
    assert {c: march.totals[c] for c in COUNTS} == MARCH_TOTALS
    live(stats, months.later)
    clock.now = vn("2026-06-01")
    assert as_dict(stats.report(parse_period("2026-03"), "level")) == as_dict(march)


# -- the schema -------------------------------------------------------------------------


def _columns(stats: StatsApplication, table: str) -> list[str]:
    return sorted(
        r["name"] for r in stats.store.read(f"SELECT name FROM pragma_table_info('{table}')")
    )


def test_the_migrated_tables_have_the_shape_the_replay_builds(tmp_path: Path) -> None:
    stats = app_in(tmp_path, Clock(vn("2026-04-01")))
    assert stats.migrated.after == STATS.latest == 2
    stats.store.write(lambda tx: rm.create_tables(tx, "_shape", indexes=False))
    for table in rm.TABLES:
        assert _columns(stats, table) == _columns(stats, f"{table}_shape"), table


def test_a_store_from_before_the_reports_is_opened_and_reported_on(tmp_path: Path) -> None:
    """The previous release's stats tables (step 1), with a row: kept, at step 2."""
    stats = app_in(tmp_path, Clock(vn("2026-04-01")))

    def as_before(tx: Any) -> None:
        for table in (*rm.TABLES, "schema_version"):
            tx.execute(f"DROP TABLE IF EXISTS {{{table}}}")
        STATS.steps[0].apply(tx)
        tx.execute(
            "INSERT INTO {stats_dossiers} (dossier_id, year, procedure_id, procedure_name, "
            "level, channel, agency_code, appointment_date, status, timeliness, paused, overdue, "
            "fees_vnd, updated_at) VALUES ('d1', 2026, ?, 'Đăng ký khai sinh', 4, 'online', ?, "
            "'2026-03-20', 'in_progress', NULL, 0, 0, 0, '2026-03-02T02:00:00+00:00')",
            (BIRTH, COMMUNE),
        )

    stats.store.write(as_before)
    stats.close()
    reopened = app_in(tmp_path, Clock(vn("2026-04-01")))
    assert (reopened.migrated.before, reopened.migrated.after) == (0, 2)
    row = reopened.store.read_one("SELECT statutory_date, apologised FROM {stats_dossiers}")
    assert row == {"statutory_date": "2026-03-20", "apologised": 0}
    assert reopened.ytd(year=2026, today=date(2026, 3, 31)).totals["received"] == 1
    # The facts were never kept: empty until a replay, and the report says so by zeros.
    assert reopened.report(parse_period("2026-03")).rows == []
    newcomer = story("2026-03-02", "2026-03-20")
    live(reopened, [newcomer.received()])
    assert reopened.report(parse_period("2026-03")).totals["received"] == 1


def test_channels_are_the_contract_s() -> None:
    channels: tuple[Channel, ...] = ("online", "counter", "post")
    assert all(f"received_{c}" in COUNTS for c in channels)


# -- files and the API ------------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    clock_file = tmp_path / "clock"
    clock_file.write_text("2026-04-01T08:00:00+07:00")
    app = create_app(Settings(var_dir=tmp_path, clock_file=clock_file))
    live(app.state.stats, around_march().march)
    return TestClient(app)  # no lifespan: no broker needed


def test_api_json_is_public_and_is_the_report(client: TestClient) -> None:
    answer = client.get("/v1/reports", params={"period": "2026-03", "by": "agency"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["period"], body["first_day"], body["last_day"]) == (
        "2026-03",
        "2026-03-01",
        "2026-03-31",
    )
    assert (body["by"], body["complete"]) == ("agency", True)
    assert {c: body["totals"][c] for c in COUNTS} == MARCH_TOTALS
    assert sorted(r["key"] for r in body["rows"]) == sorted([COMMUNE, LAND_OFFICE])
    dates = client.get("/v1/reports", params={"from": "2026-03-01", "to": "2026-03-31"}).json()
    assert dates["totals"] == body["totals"]


def test_api_csv_has_a_bom_and_vietnamese_headings(client: TestClient) -> None:
    answer = client.get("/v1/reports", params={"period": "2026-03", "format": "csv"})
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="bao-cao-2026-03-procedure.csv"' in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert header[:3] == ["Thủ tục hành chính", "Mã", "Kỳ trước chuyển qua"]
    assert "Đã giải quyết: Quá hạn có văn bản xin lỗi" in header
    assert [r[1] for r in rows] == [BIRTH, LAND, MARITAL, ""]
    total = dict(zip(header, rows[-1], strict=True))
    assert total["Thủ tục hành chính"] == "Tổng cộng"
    assert total["Tiếp nhận trong kỳ: Tổng số"] == "7"


def test_api_xlsx_is_laid_out_as_offices_file_it(client: TestClient) -> None:
    answer = client.get(
        "/v1/reports", params={"period": "2026-Q1", "by": "field", "format": "xlsx"}
    )
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert "kỳ 2026-Q1, từ 01/01/2026 đến 31/03/2026" in str(rows[0][0])
    assert rows[1][:3] == ("Lĩnh vực", "Mã", "Kỳ trước chuyển qua")
    received = rows[1].index("Tiếp nhận trong kỳ")
    assert rows[2][received : received + 4] == ("Tổng số", "Trực tuyến", "Trực tiếp", "Bưu chính")
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A1:T1", "A2:A3", "C2:C3", "D2:G2", "H2:L2"} <= merged
    body = [r for r in rows[3:] if r[0] is not None]
    assert [r[0] for r in body] == ["Hộ tịch", "Đất đai", "Tổng cộng"]
    assert body[-1][received] == 9  # received in Q1: the two of February and March's seven
    assert sum(r[received] for r in body[:-1]) == body[-1][received]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "2026-13"}, "unknown month"),
        ({"period": "last month"}, "unknown period"),
        ({"from": "2026-03-31", "to": "2026-03-01"}, "is before from"),
        ({"from": "2026-03-01"}, "give period"),
        ({"period": "2027-01"}, "not started"),
        ({"from": "0001-01-01", "to": "0001-01-01"}, "outside the years 2000-2100"),
    ],
)
def test_api_bad_periods_are_422_with_the_reason(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    answer = client.get("/v1/reports", params=params)
    assert answer.status_code == 422
    assert message in answer.json()["error"]["message"]


def test_api_unknown_grouping_or_format_is_422(client: TestClient) -> None:
    for params in ({"period": "2026-03", "by": "ward"}, {"period": "2026", "format": "pdf"}):
        answer = client.get("/v1/reports", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["error"]["code"] == "invalid_request"
        assert "Traceback" not in answer.text
