"""The access log and the access report (regulation S-4: "ghi lưu nhật ký, thống kê,
báo cáo truy cập").

Every HTTP request a service answers is

* **logged**, one structlog line ``request``: the service, method, route *template*
  (``/v1/dossiers/{ref}``, never the path as sent, which holds dossier codes and ID
  numbers; ``<unmatched>`` when no route matches), status, latency in milliseconds, the
  caller's subject and role when the request carried a valid token, and the correlation
  id. The line's time is the process's log timestamp (``motcua/core/logging.py``).
  Nothing else of the request: no query string, no header, no body, no name or ID
  number of the caller, no IP address (personal data that the count does not need; the
  reverse proxy in front keeps its own log, under its own retention, where a security
  investigation needs one);
* **counted** per (local day, service, route template, method, role or ``anonymous``,
  status) in memory, and the counts *added* to the store's ``access_counts`` table
  (``motcua/runtime/access_counts.py``) by a background task every ``FLUSH_SECONDS``
  and once more when the app shuts down, so that no request waits on a write. A crash
  (a kill, a power cut) loses the counts of at most the last ``FLUSH_SECONDS``; a flush
  that fails keeps its counts in memory for the next one.

``GET /v1/access-report`` reads the counts back, for an administrator or an inspector:
failed sign-ins (401) and refused calls (403) as columns of their own.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import structlog
from fastapi import FastAPI, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from motcua.core.calendar import VIETNAM_TZ
from motcua.core.errors import Invalid, Unavailable
from motcua.runtime import access_counts
from motcua.runtime.access_counts import AccessKey
from motcua.runtime.store import Store
from motcua.web.auth import CallerDep
from motcua.web.http import ERROR_RESPONSES, Day

log = structlog.get_logger("motcua.access")

ANONYMOUS = "anonymous"
UNMATCHED = "<unmatched>"
FLUSH_SECONDS = 5.0
MAX_REPORT_DAYS = 366
# The caller's X-Request-ID is kept if it is a plain token of at most 128 printable
# characters; anything else (spaces, quotes, control characters, a whole document) would
# reach the log as sent, so such a request gets an id of ours instead.
_REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,128}")


class AccessCounter:
    """The requests counted since the last flush, and the flush to the store.

    ``count`` runs on every request, in the event loop: one lock (never contended for
    long: the flush only swaps the dictionary under it) and one addition. The local day
    is computed again only when the clock passes midnight in Vietnam."""

    def __init__(
        self,
        service: str,
        store: Store | None,
        *,
        clock: Callable[[], float] = time.time,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self.service, self.store, self.clock = service, store, clock
        self.flush_seconds = flush_seconds
        self._counts: dict[AccessKey, int] = {}
        self._lock = threading.Lock()
        self._day = ""
        self._day_ends = 0.0

    def _today(self) -> str:
        now = self.clock()
        if now >= self._day_ends or now < self._day_ends - 86_400:
            local = datetime.fromtimestamp(now, VIETNAM_TZ)
            midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time())
            self._day = local.date().isoformat()
            self._day_ends = midnight.replace(tzinfo=VIETNAM_TZ).timestamp()
        return self._day

    def count(self, route: str, method: str, role: str, status: int) -> None:
        if self.store is None:
            return
        key = AccessKey(self._today(), self.service, route, method, role, status)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1

    def pending(self) -> dict[AccessKey, int]:
        """The counts not yet in the store (a copy)."""
        with self._lock:
            return dict(self._counts)

    def flush(self) -> int:
        """Add the pending counts to the store in one transaction; the number of requests
        written. On failure they stay pending, for the next flush."""
        with self._lock:
            batch, self._counts = self._counts, {}
        if not batch or self.store is None:
            return 0
        try:
            self.store.write(access_counts.add(batch))
        except Exception as error:  # the store away: keep the counts, try again later
            with self._lock:
                for key, n in batch.items():
                    self._counts[key] = self._counts.get(key, 0) + n
            log.warning("access counts not written; kept for the next flush", error=repr(error))
            return 0
        return sum(batch.values())

    async def run(self) -> None:
        """Flush every ``flush_seconds`` until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(self.flush_seconds)
                await asyncio.to_thread(self.flush)
        finally:
            # Cancelled at shutdown: the last seconds' counts. A thread, as above, so the
            # write never runs in the event loop; shielded, so a second cancellation of
            # the shutdown does not abandon it half-way.
            await asyncio.shield(asyncio.to_thread(self.flush))


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            if _REQUEST_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The template of the route that answered the request, as the OpenAPI document
    writes it (``/v1/dossiers/{ref}``), or ``UNMATCHED``.

    FastAPI (0.16x) keeps an included router's routes with their own paths
    (``/dossiers/{ref}`` in ``scope["route"]``) and records the route as the app sees it,
    prefixes included, in its part of the scope; a route of the app itself has its full
    path in ``scope["route"]``. A route with no parameters matched the path as it is (the
    documentation pages, which set no ``scope["route"]``), so the path is its template."""
    context = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    if template:
        return str(template)
    if "endpoint" in scope and not scope.get("path_params"):
        return str(scope["path"])
    return UNMATCHED


class AccessLog:
    """ASGI middleware: logs and counts each HTTP request once it is answered.

    It sets the request's correlation id (``request.state.correlation_id``, which
    ``http.correlation_id`` hands to the endpoints), and reads back what routing and
    authentication left in the scope: the matched route (``scope["route"]``) and the
    caller (``request.state.caller``, set by ``auth.optional_caller``)."""

    def __init__(self, app: ASGIApp, counter: AccessCounter) -> None:
        self.app, self.counter = app, counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        state["correlation_id"] = correlation = _request_id(scope["headers"])
        status = 500  # unless a response starts: an exception escaping becomes a 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            ms = round((time.perf_counter() - started) * 1000, 2)
            route = route_template(scope)
            caller = state.get("caller")
            role = caller.role if caller is not None else ANONYMOUS
            self.counter.count(route, scope["method"], role, status)
            log.info(
                "request",
                service=self.counter.service,
                method=scope["method"],
                route=route,
                status=status,
                ms=ms,
                sub=caller.sub if caller is not None else None,
                role=role,
                correlation_id=correlation,
            )


# -- the report ---------------------------------------------------------------------------

COLUMNS = ("requests", "succeeded", "failed_logins", "refused", "client_errors", "server_errors")
HEADINGS = (
    "Ngày (day)",
    "Dịch vụ (service)",
    "Đường dẫn (route)",
    "Phương thức (method)",
    "Vai trò (role)",
    "Tổng (requests)",
    "Thành công (succeeded, < 400)",
    "Đăng nhập thất bại (failed logins, 401)",
    "Bị từ chối (refused, 403)",
    "Lỗi khác của yêu cầu (other 4xx)",
    "Lỗi máy chủ (5xx)",
)


class AccessRow(BaseModel):
    day: date
    service: str
    route: str = Field(description="The route's template, e.g. /v1/dossiers/{ref}")
    method: str
    role: str = Field(description="The caller's role, or anonymous without a valid token")
    requests: int
    succeeded: int = Field(description="Answered below 400")
    failed_logins: int = Field(description="Answered 401: no token, or not a valid one")
    refused: int = Field(description="Answered 403: signed in, but not allowed")
    client_errors: int = Field(description="Other 4xx answers (404, 409, 422, …)")
    server_errors: int = Field(description="5xx answers")
    statuses: dict[str, int] = Field(description="Requests per status code")


class AccessTotals(BaseModel):
    requests: int
    succeeded: int
    failed_logins: int
    refused: int
    client_errors: int
    server_errors: int
    statuses: dict[str, int]


class AccessReport(BaseModel):
    """Requests of one service per day, route, method and role."""

    service: str
    first_day: date
    last_day: date
    as_of: datetime
    rows: list[AccessRow]
    totals: AccessTotals


def _column(status: int) -> str:
    if status == 401:
        return "failed_logins"
    if status == 403:
        return "refused"
    if status >= 500:
        return "server_errors"
    if status >= 400:
        return "client_errors"
    return "succeeded"


def _empty() -> dict[str, Any]:
    return {**dict.fromkeys(COLUMNS, 0), "statuses": {}}


def _add(into: dict[str, Any], status: int, n: int) -> None:
    into["requests"] += n
    into[_column(status)] += n
    into["statuses"][str(status)] = into["statuses"].get(str(status), 0) + n


def build_report(
    service: str, first: date, last: date, stored: list[dict[str, Any]]
) -> AccessReport:
    """The rows of the table grouped by (day, service, route, method, role), statuses
    summed into the report's columns."""
    groups: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    totals = _empty()
    for row in stored:
        key = (row["day"], row["service"], row["route"], row["method"], row["role"])
        group = groups.setdefault(key, _empty())
        _add(group, int(row["status"]), int(row["requests"]))
        _add(totals, int(row["status"]), int(row["requests"]))
    rows = [
        AccessRow(
            day=date.fromisoformat(day),
            service=svc,
            route=route,
            method=method,
            role=role,
            **counts,
        )
        for (day, svc, route, method, role), counts in sorted(groups.items())
    ]
    return AccessReport(
        service=service,
        first_day=first,
        last_day=last,
        as_of=datetime.now(VIETNAM_TZ).replace(microsecond=0),
        rows=rows,
        totals=AccessTotals(**totals),
    )


def to_csv(report: AccessReport) -> bytes:
    """One line per row, then the totals; UTF-8 with a BOM, as the statistics' CSV, so
    that a spreadsheet opens the Vietnamese headings as they are written."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADINGS)
    for row in report.rows:
        counts = [getattr(row, c) for c in COLUMNS]
        writer.writerow(
            [row.day.isoformat(), row.service, row.route, row.method, row.role, *counts]
        )
    totals = report.totals
    writer.writerow(
        ["Tổng cộng", report.service, "", "", "", *(getattr(totals, c) for c in COLUMNS)]
    )
    return out.getvalue().encode("utf-8-sig")


def report_days(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The report's days: ``to`` defaults to today, ``from`` to ``to``; at most a year."""
    last = last or today
    first = first or last
    if first > last:
        raise Invalid("'from' is after 'to'", details=[_problem("query.from", "after 'to'")])
    if (last - first).days >= MAX_REPORT_DAYS:
        problem = _problem("query.to", f"more than {MAX_REPORT_DAYS - 1} days after 'from'")
        raise Invalid(f"a report covers at most {MAX_REPORT_DAYS} days", details=[problem])
    return first, last


def _problem(field: str, problem: str) -> dict[str, object]:
    return {"field": field, "problem": problem}


def install_access_log(app: FastAPI, service: str, store: Store | None) -> AccessCounter:
    """The middleware, its flush in the app's lifespan, and ``GET /v1/access-report``.

    Without a store (an app assembled by a test) requests are logged but not counted,
    and the report is unavailable."""
    counter = AccessCounter(service, store)
    app.state.access_counter = counter
    app.add_middleware(AccessLog, counter=counter)
    app.router.lifespan_context = _flushing(app.router.lifespan_context, counter)
    responses: dict[int | str, dict[str, Any]] = {
        **ERROR_RESPONSES,
        200: {"content": {"text/csv": {}}, "description": "The report"},
    }

    @app.get(
        "/v1/access-report",
        tags=["operations"],
        response_model=AccessReport,
        responses=responses,
    )
    def access_report(
        caller: CallerDep,
        first: Annotated[Day | None, Query(alias="from", description="First day")] = None,
        last: Annotated[Day | None, Query(alias="to", description="Last day, included")] = None,
        fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    ) -> Any:
        """Requests to this service per local day, route, method and role, for an
        administrator or an inspector: failed sign-ins (401) and refused calls (403)
        apart. Counts reach the store every few seconds; this adds the pending ones first."""
        caller.require("admin", "inspector")
        if counter.store is None:
            raise Unavailable("this app keeps no access counts")
        start, end = report_days(first, last, datetime.now(VIETNAM_TZ).date())
        counter.flush()
        report = build_report(service, start, end, access_counts.counts(counter.store, start, end))
        if fmt == "json":
            return report
        name = f"truy-cap-{service}-{start.isoformat()}-{end.isoformat()}.csv"
        return Response(
            to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return counter


def _flushing(
    inner: Callable[[Any], AbstractAsyncContextManager[Any]], counter: AccessCounter
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    """The app's lifespan with the counter's flush task running beside it."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        task = asyncio.create_task(counter.run())
        try:
            async with inner(app) as state:
                yield state
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return lifespan
