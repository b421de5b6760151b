"""The access log and the access report (regulation S-4): one line per request with the
route's template and no personal data, counts per day, route, method, role and status
in the service's store, written in batches and on shutdown, and the report of them.

The apps are the services' own, in-process on SQLite (tests/support/apps.py); the
lifespan, where the flush runs, only where a test says ``with TestClient(...)``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Iterator, MutableMapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import structlog
from eventsourcing.application import Application
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rich.console import Console
from structlog.testing import capture_logs
from typer.testing import CliRunner

import ops.cli
import ops.cli.access
from motcua.core.calendar import VIETNAM_TZ
from motcua.runtime import access_counts
from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from motcua.runtime.store import Store, store_env
from motcua.web import access_log
from motcua.web.access_log import AccessCounter
from motcua.web.auth import issue_token
from motcua.web.http import install_common
from tests.support.apps import make_app, roles

ID_NUMBER = "001190000001"
CODE = "000.00.22.H23-261201-0042"
TODAY = datetime.now(VIETNAM_TZ).date()


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {roles()[role]}"}


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MutableMapping[str, Any]]]:
    """The access log's lines, as structlog hands them to the renderer."""
    with capture_logs() as captured:
        # A logger made inside the capture: one bound before (a process that configured
        # structlog caches its loggers) would write past it.
        monkeypatch.setattr(access_log, "log", structlog.get_logger("motcua.access"))
        yield captured


def requests_logged(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line["event"] == "request"]


def stored(app: FastAPI) -> list[dict[str, Any]]:
    counter: AccessCounter = app.state.access_counter
    assert counter.store is not None
    return access_counts.counts(counter.store, date(2000, 1, 1), date(2100, 1, 1))


def test_a_request_is_logged_by_its_route_template_without_personal_data(
    tmp_path: Path, logs: list[MutableMapping[str, Any]]
) -> None:
    client = TestClient(make_app("intake", tmp_path), raise_server_exceptions=False)
    citizen = issue_token(
        DEV_JWT_SECRET, sub="c-77", role="citizen", name="NGUYỄN THỊ LAN", id_number=ID_NUMBER
    )

    lookup = client.get(
        f"/v1/dossiers/{CODE}", headers={"X-Id-Number": ID_NUMBER, "X-Request-ID": "req-1"}
    )
    page = client.get(f"/lookup?code={CODE}")
    mine = client.get(
        f"/v1/dossiers/{ID_NUMBER}/receipt", headers={"Authorization": f"Bearer {citizen}"}
    )
    nowhere = client.get(f"/no/such/{ID_NUMBER}")

    assert [lookup.status_code, page.status_code, nowhere.status_code] == [404, 200, 404]
    lines = requests_logged(logs)
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("GET", "/v1/dossiers/{ref}", 404),
        ("GET", "/lookup", 200),
        ("GET", "/v1/dossiers/{ref}/receipt", mine.status_code),
        ("GET", "<unmatched>", 404),
    ]
    first, _, third, _ = lines
    assert first["correlation_id"] == "req-1"
    assert (first["role"], first["sub"]) == ("anonymous", None)
    assert (third["role"], third["sub"]) == ("citizen", "c-77")
    assert all(line["service"] == "intake" for line in lines)
    assert all(isinstance(line["ms"], float) and line["ms"] >= 0 for line in lines)
    assert set(first) == {
        "event", "log_level", "service", "method", "route", "status", "ms", "sub", "role",
        "correlation_id",
    }  # fmt: skip
    everything = json.dumps(logs, ensure_ascii=False, default=str)
    for secret in (ID_NUMBER, CODE, "NGUYỄN", "testclient", "code="):
        assert secret not in everything


def test_the_correlation_id_logged_is_the_one_the_request_keeps(
    tmp_path: Path, logs: list[MutableMapping[str, Any]]
) -> None:
    client = TestClient(make_app("intake", tmp_path))
    client.get("/healthz", headers={"X-Request-ID": "a b\tc"})  # not a plain token: replaced
    client.get("/healthz", headers={"X-Request-ID": "x" * 129})
    client.get("/healthz")

    ids = [line["correlation_id"] for line in requests_logged(logs)]
    assert all(len(i) == 32 and i.isalnum() for i in ids)
    assert len(set(ids)) == 3


def test_requests_are_counted_per_route_method_role_and_status(tmp_path: Path) -> None:
    app = make_app("intake", tmp_path)
    client = TestClient(app, raise_server_exceptions=False)
    forged = issue_token("not-the-province-key-but-a-forged-one", sub="x", role="admin")

    client.get("/v1/dossiers")  # no token: 401
    client.get("/v1/dossiers", headers={"Authorization": f"Bearer {forged}"})  # 401
    client.get("/v1/dossiers", headers=bearer("citizen"))  # a citizen at the queue: 403
    client.get("/v1/dossiers", headers=bearer("citizen"))
    client.get("/v1/dossiers", headers=bearer("officer"))  # 200
    client.get("/v1/procedures")
    client.get(f"/v1/dossiers/{CODE}")  # 404 under its template
    client.delete("/v1/procedures")  # 405 under its template
    client.get(f"/{ID_NUMBER}")  # 404, no route

    assert stored(app) == []  # counted in memory until a flush
    assert app.state.access_counter.flush() == 9
    counted = {
        (r["route"], r["method"], r["role"], r["status"]): r["requests"] for r in stored(app)
    }
    assert counted == {
        ("/v1/dossiers", "GET", "anonymous", 401): 2,
        ("/v1/dossiers", "GET", "citizen", 403): 2,
        ("/v1/dossiers", "GET", "officer", 200): 1,
        ("/v1/procedures", "GET", "anonymous", 200): 1,
        ("/v1/dossiers/{ref}", "GET", "anonymous", 404): 1,
        ("/v1/procedures", "DELETE", "anonymous", 405): 1,
        ("<unmatched>", "GET", "anonymous", 404): 1,
    }
    assert {(r["day"], r["service"]) for r in stored(app)} == {(TODAY.isoformat(), "intake")}

    client.get("/v1/dossiers")
    assert app.state.access_counter.flush() == 1  # added to the row, not written over
    assert ("/v1/dossiers", "GET", "anonymous", 401, 3) in {
        (r["route"], r["method"], r["role"], r["status"], r["requests"]) for r in stored(app)
    }


def test_the_report_shows_failed_logins_and_refusals_apart_as_json_and_csv(
    tmp_path: Path,
) -> None:
    app = make_app("workflow", tmp_path)
    client = TestClient(app, raise_server_exceptions=False)
    client.get("/v1/queue")  # 401
    client.get("/v1/queue", headers=bearer("citizen"))  # 403
    client.get("/v1/queue", headers=bearer("officer"))  # 200
    client.get("/v1/queue", headers=bearer("officer"))

    answer = client.get(
        "/v1/access-report",
        params={"from": TODAY.isoformat(), "to": TODAY.isoformat()},
        headers=bearer("inspector"),
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()  # the pending counts are in: the report flushes first
    assert (report["service"], report["first_day"], report["last_day"]) == (
        "workflow",
        TODAY.isoformat(),
        TODAY.isoformat(),
    )
    queue = {r["role"]: r for r in report["rows"] if r["route"] == "/v1/queue"}
    assert queue["anonymous"]["failed_logins"] == 1
    assert queue["citizen"]["refused"] == 1
    assert queue["citizen"]["statuses"] == {"403": 1}
    assert (queue["officer"]["requests"], queue["officer"]["succeeded"]) == (2, 2)
    totals = report["totals"]
    assert (totals["requests"], totals["failed_logins"], totals["refused"]) == (4, 1, 1)

    # The CSV: the same rows, the totals (the JSON report's request counted now too).
    csv_answer = client.get("/v1/access-report?format=csv", headers=bearer("admin"))
    assert csv_answer.status_code == 200
    assert csv_answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv_answer.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(csv_answer.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["Ngày (day)", "Dịch vụ (service)", "Đường dẫn (route)"]
    assert table[0][7:9] == ["Đăng nhập thất bại (failed logins, 401)", "Bị từ chối (refused, 403)"]
    citizen = next(row for row in table if row[2] == "/v1/queue" and row[4] == "citizen")
    assert citizen == [TODAY.isoformat(), "workflow", "/v1/queue", "GET", "citizen",
                       "1", "0", "0", "1", "0", "0"]  # fmt: skip
    assert table[-1][:2] == ["Tổng cộng", "workflow"]
    assert table[-1][5] == "5"  # the four, and the JSON report's own request


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "2026-13-01"}, "invalid_request"),
        ({"from": "01/12/2026"}, "invalid_request"),
        ({"to": "1764547200"}, "invalid_request"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "invalid"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "invalid"),
        ({"format": "xlsx"}, "invalid_request"),
    ],
)
def test_bad_dates_are_refused(tmp_path: Path, params: dict[str, str], code: str) -> None:
    client = TestClient(make_app("stats", tmp_path))
    answer = client.get("/v1/access-report", params=params, headers=bearer("admin"))
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == code


def test_a_report_of_days_without_requests_is_empty(tmp_path: Path) -> None:
    client = TestClient(make_app("notify", tmp_path))
    client.get("/healthz")
    answer = client.get("/v1/access-report?from=2001-01-01&to=2001-12-31", headers=bearer("admin"))
    assert answer.status_code == 200
    assert answer.json()["rows"] == []
    assert answer.json()["totals"]["requests"] == 0


def small_app(tmp_path: Path, flush_seconds: float) -> tuple[FastAPI, Application[UUID]]:
    """An app of its own with ``install_common`` on a fresh store, to drive its lifespan
    without the services' relay and consumer."""
    events: Application[UUID] = Application(store_env(None, str(tmp_path), "small"))
    app = FastAPI()
    app.state.settings = Settings(var_dir=tmp_path)
    install_common(app, service="small", store=Store(events.recorder))  # type: ignore[arg-type]
    app.state.access_counter.flush_seconds = flush_seconds

    @app.get("/things/{thing_id}")
    def thing(thing_id: str) -> dict[str, str]:
        return {"thing": thing_id}

    return app, events


def test_the_counts_are_written_on_shutdown(tmp_path: Path) -> None:
    app, events = small_app(tmp_path, flush_seconds=3600)  # no periodic flush meanwhile
    with TestClient(app) as client:
        for n in range(3):
            client.get(f"/things/{n}")
        assert stored(app) == []
        assert sum(app.state.access_counter.pending().values()) == 3

    assert [(r["route"], r["status"], r["requests"]) for r in stored(app)] == [
        ("/things/{thing_id}", 200, 3)
    ]
    assert app.state.access_counter.pending() == {}
    events.close()


def test_the_counts_are_written_every_few_seconds_while_serving(tmp_path: Path) -> None:
    app, events = small_app(tmp_path, flush_seconds=0.05)
    with TestClient(app) as client:
        client.get("/things/1")
        deadline = time.monotonic() + 5
        while not stored(app) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [r["requests"] for r in stored(app)] == [1]  # before the shutdown
    events.close()


def test_a_failed_flush_keeps_its_counts_for_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app("payment", tmp_path)
    client = TestClient(app)
    counter: AccessCounter = app.state.access_counter
    client.get("/healthz")
    client.get("/healthz")
    assert counter.store is not None
    write = counter.store.write

    def away(*_: Any) -> None:
        raise OSError("disk away")

    monkeypatch.setattr(counter.store, "write", away)
    assert counter.flush() == 0
    assert sum(counter.pending().values()) == 2
    client.get("/healthz")
    monkeypatch.setattr(counter.store, "write", write)
    assert counter.flush() == 3
    assert [(r["route"], r["requests"]) for r in stored(app)] == [("/healthz", 3)]


def test_a_request_is_counted_on_the_local_day() -> None:
    """Vietnam's midnight is 17:00 UTC: a request at 16:59:59 UTC is of that day, one a
    second later of the next."""
    now = [datetime(2026, 12, 1, 16, 59, 59, tzinfo=UTC).timestamp()]
    counter = AccessCounter("intake", store=object(), clock=lambda: now[0])  # type: ignore[arg-type]
    counter.count("/v1/procedures", "GET", "anonymous", 200)
    now[0] += 1
    counter.count("/v1/procedures", "GET", "anonymous", 200)
    counter.count("/v1/procedures", "GET", "anonymous", 200)
    now[0] -= 86_400 * 3  # a clock set back: the day follows it
    counter.count("/v1/procedures", "GET", "anonymous", 200)
    days = {key.day: n for key, n in counter.pending().items()}
    assert days == {"2026-12-01": 1, "2026-12-02": 2, "2026-11-29": 1}


def test_an_escaping_error_is_counted_as_a_500(
    tmp_path: Path, logs: list[MutableMapping[str, Any]]
) -> None:
    app, events = small_app(tmp_path, flush_seconds=3600)

    @app.get("/broken/{thing_id}")
    def broken(thing_id: str) -> None:
        raise RuntimeError(f"bug with {thing_id}")

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get(f"/broken/{ID_NUMBER}").status_code == 500
    assert [(line["route"], line["status"]) for line in requests_logged(logs)] == [
        ("/broken/{thing_id}", 500)
    ]
    assert app.state.access_counter.flush() == 1
    assert [(r["route"], r["status"]) for r in stored(app)] == [("/broken/{thing_id}", 500)]
    events.close()


def test_the_flush_task_writes_once_more_when_cancelled(tmp_path: Path) -> None:
    app, events = small_app(tmp_path, flush_seconds=3600)
    counter: AccessCounter = app.state.access_counter
    counter.count("/things/{thing_id}", "GET", "anonymous", 200)

    async def run_then_stop() -> None:
        task = asyncio.create_task(counter.run())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_then_stop())
    assert [r["requests"] for r in stored(app)] == [1]
    events.close()


def test_the_command_prints_the_report_as_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``motcua access-report``, its call to the running service answered in-process."""
    client = TestClient(make_app("payment", tmp_path), raise_server_exceptions=False)
    client.get("/v1/reconciliations/2026-12-01")  # 401
    client.get("/v1/reconciliations/2026-12-01", headers=bearer("citizen"))  # 403
    asked: list[tuple[str, str, dict[str, str]]] = []

    def admin_api(service: str, path: str, **params: str) -> Any:
        asked.append((service, path, params))
        return client.get(path, params=params, headers=bearer("admin"))

    monkeypatch.setattr(ops.cli.access, "admin_api", admin_api)
    recorded = Console(width=200, record=True)
    monkeypatch.setattr(ops.cli.access, "console", recorded)
    day = TODAY.isoformat()
    result = CliRunner().invoke(
        ops.cli.app, ["access-report", "--service", "payment", "--from", day, "--to", day]
    )

    assert result.exit_code == 0, result.output
    assert asked == [("payment", "/v1/access-report", {"format": "json", "from": day, "to": day})]
    printed = recorded.export_text()
    rows = [line for line in printed.splitlines() if "/v1/reconciliations/{day}" in line]
    cells = [[cell.strip() for cell in row.strip("│ ").split("│")] for row in rows]
    assert cells == [
        [day, "/v1/reconciliations/{day}", "GET", "anonymous", "1", "0", "1", "0", "0", "0"],
        [day, "/v1/reconciliations/{day}", "GET", "citizen", "1", "0", "0", "1", "0", "0"],
    ]
    total = next(line for line in printed.splitlines() if "total" in line)
    assert [c.strip() for c in total.strip("│ ").split("│")][4:7] == ["2", "0", "1"]

    unknown = CliRunner().invoke(ops.cli.app, ["access-report", "--service", "nosuch"])
    assert unknown.exit_code == 2
