"""Stats' HTTP API: the year-to-date figures and the periodic reports as JSON, CSV or
XLSX, and the public page.

Public, without authentication: every service must publish at least its figures from
the start of the year to now (S-1), the online share that decides level 4 (S-2) and the
satisfaction ratings (S-3). CSV and XLSX have one header row of the JSON keys, then the
rows, then the totals row (``kind`` tells them apart), so a spreadsheet reads back
exactly the JSON figures. The periodic reports (``GET /v1/reports``) are public too: they
are the same figures, for other periods; their files are laid out as offices file them
(``report_files.py``). So is the service index of Decision 766/QĐ-TTg
(``GET /v1/stats/index``, ``service_index.py``), which the page shows for this month.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from openpyxl import Workbook

from contracts.envelope import Channel
from motcua.core.money import money_vnd
from motcua.web.http import ERROR_RESPONSES, file_responses
from services.stats import report_files
from services.stats.application import StatsApplication
from services.stats.figures import COLUMNS, ELIGIBLE_PERCENT, Scope, Ytd
from services.stats.periods import Period, parse_period
from services.stats.reports import GroupBy, Report
from services.stats.schemas import IndexOut, ReportOut, YtdOut
from services.stats.service_index import FEEDBACK_ANSWER_WORKING_DAYS, RATES, ServiceIndex

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Format = Literal["json", "csv", "xlsx"]


def get_application(request: Request) -> StatsApplication:
    app: StatsApplication = request.app.state.stats
    return app


StatsDep = Annotated[StatsApplication, Depends(get_application)]
router = APIRouter(responses=ERROR_RESPONSES)


FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, XLSX: {}}, "description": "The figures"}
}


@router.get("/v1/stats/ytd", response_model=YtdOut, responses=FILE_RESPONSES, tags=["statistics"])
def year_to_date(
    stats: StatsDep,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Default: this year")] = None,
    procedure_id: str | None = None,
    agency_code: str | None = None,
    level: Annotated[int | None, Query(ge=1, le=4)] = None,
    channel: Channel | None = None,
    scope: Scope = "province",
    fmt: Annotated[Format, Query(alias="format")] = "json",
) -> Any:
    """Figures from 1 January to today, per procedure, agency, level and channel."""
    figures = stats.ytd(
        year=year or stats.today().year,
        procedure_id=procedure_id,
        agency_code=agency_code,
        level=level,
        channel=channel,
        scope=scope,
    )
    if fmt == "json":
        return as_json(figures)
    name = f"thong-ke-{figures.year}-{scope}.{fmt}"
    content, media = (to_csv(figures), "text/csv; charset=utf-8")
    if fmt == "xlsx":
        content, media = to_xlsx(figures), XLSX
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(content, media_type=media, headers=disposition)


# The period of a report or of the service index (``periods.parse_period``).
PeriodParam = Annotated[
    str | None,
    Query(description="2026-03 (month), 2026-Q1, 2026-H1, 2026 (year); or from and to"),
]
FirstDay = Annotated[date | None, Query(alias="from", description="First day")]
LastDay = Annotated[date | None, Query(alias="to", description="Last day, included")]


@router.get("/v1/reports", response_model=ReportOut, responses=FILE_RESPONSES, tags=["statistics"])
def periodic_report(
    stats: StatsDep,
    period: PeriodParam = None,
    first: FirstDay = None,
    last: LastDay = None,
    by: GroupBy = "procedure",
    fmt: Annotated[Format, Query(alias="format")] = "json",
) -> Any:
    """The report of a period as of its end (or now, while it runs), grouped ``by``."""
    report = stats.report(parse_period(period, first, last), by)
    if fmt == "json":
        return report_json(report)
    name = f"bao-cao-{report.period.label}-{by}.{fmt}"
    content, media = (report_files.to_csv(report), "text/csv; charset=utf-8")
    if fmt == "xlsx":
        content, media = report_files.to_xlsx(report), XLSX
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(content, media_type=media, headers=disposition)


INDEX_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "The index"}
}


@router.get(
    "/v1/stats/index", response_model=IndexOut, responses=INDEX_RESPONSES, tags=["statistics"]
)
def index_of_service(
    stats: StatsDep,
    period: PeriodParam = None,
    first: FirstDay = None,
    last: LastDay = None,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Any:
    """The service index of Decision 766/QĐ-TTg per receiving agency, as of the period's
    end (or now, while it runs): each rate with its numerator and denominator."""
    index = stats.service_index(parse_period(period, first, last))
    if fmt == "json":
        return index_json(index)
    name = f"chi-so-phuc-vu-{index.period.label}.csv"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(
        report_files.index_to_csv(index),
        media_type="text/csv; charset=utf-8",
        headers=disposition,
    )


def _period_json(p: Period) -> dict[str, Any]:
    """The period's part of a report's or an index's answer."""
    return {"period": p.label, "first_day": p.first, "last_day": p.last}


def index_json(index: ServiceIndex) -> dict[str, Any]:
    return {
        **_period_json(index.period),
        "as_of": index.as_of,
        "complete": index.complete,
        "feedback_limit_working_days": FEEDBACK_ANSWER_WORKING_DAYS,
        "rows": index.rows,
        "totals": index.totals,
    }


def report_json(report: Report) -> dict[str, Any]:
    return {
        **_period_json(report.period),
        "by": report.by,
        "as_of": report.as_of,
        "complete": report.complete,
        "rows": report.rows,
        "totals": report.totals,
    }


@router.get(
    "/stats",
    response_class=Response,
    responses=file_responses("text/html", "The page"),
    tags=["statistics"],
)
def public_page(
    stats: StatsDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> HTMLResponse:
    """The published figures of every service, readable on a phone, and this month's
    service index per agency."""
    figures = stats.ytd(year=year or stats.today().year)
    index = stats.service_index(parse_period(f"{stats.today():%Y-%m}"))
    return HTMLResponse(render_page(figures, index))


# -- files ------------------------------------------------------------------------------


def as_json(figures: Ytd) -> dict[str, Any]:
    return {
        "year": figures.year,
        "today": figures.today,
        "scope": figures.scope,
        "rows": figures.rows,
        "procedures": figures.procedures,
        "totals": figures.totals,
    }


def to_csv(figures: Ytd) -> bytes:
    """UTF-8 with a byte-order mark, so that spreadsheet programs read Vietnamese right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in figures.table():
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(figures: Ytd) -> bytes:
    """One sheet of rows and totals, one of the per-procedure summaries (S-2)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "ytd"
    _fill_sheet(sheet, figures.table())
    _fill_sheet(book.create_sheet("procedures"), figures.procedures)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _fill_sheet(sheet: Any, rows: list[dict[str, Any]]) -> None:
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([row[c] for c in COLUMNS])
    sheet.freeze_panes = "A2"


# -- the page ---------------------------------------------------------------------------

OUTCOMES = (
    ("resolved_early", "Giải quyết trước hạn", "early"),
    ("resolved_on_time", "Giải quyết đúng hạn", "ontime"),
    ("resolved_late", "Giải quyết quá hạn", "late"),
    ("in_progress_on_time", "Đang giải quyết trong hạn", "open"),
    ("in_progress_overdue", "Đang giải quyết quá hạn", "overdue"),
    ("refused", "Từ chối giải quyết", "refused"),
    ("withdrawn", "Rút hồ sơ", "withdrawn"),
)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("services.stats", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )
    env.filters["vnd"] = money_vnd
    env.filters["percent"] = _percent
    env.filters["rate"] = rate_text
    env.filters["decimal"] = lambda x: f"{x:.1f}".replace(".", ",")
    env.filters["vndate"] = lambda d: d.strftime("%d/%m/%Y")
    return env


def render_page(figures: Ytd, index: ServiceIndex) -> str:
    services = [_service(p) for p in figures.procedures]
    return (
        environment()
        .get_template("ytd.html")
        .render(
            figures=figures,
            totals=_service(figures.totals),
            services=services,
            threshold=ELIGIBLE_PERCENT,
            index=index,
            index_rates=[(key, name) for key, _, _, name in RATES],
            feedback_days=FEEDBACK_ANSWER_WORKING_DAYS,
        )
    )


def _service(row: dict[str, Any]) -> dict[str, Any]:
    """A procedure's figures with the bar segments (width in % of received)."""
    received = row["received"]
    bars = [
        {
            "key": key,
            "label": label,
            "css": css,
            "count": row[key],
            "width": round(row[key] * 100 / received, 1) if received else 0,
        }
        for key, label, css in OUTCOMES
    ]
    return {**row, "bars": bars}


def _percent(share: float | None) -> str:
    if share is None:
        return "–"
    return f"{share * 100:.1f}".replace(".", ",") + "%"


def rate_text(share: float | None) -> str:
    """A rate of the service index in percent, one decimal; "—" without a denominator."""
    return "—" if share is None else _percent(share)
