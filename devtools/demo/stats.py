"""The stats end of the demo: the year-to-date figures the law asks to publish
(S-1, S-2), as the stats service computed them from the events, its public page, and the
monthly report of the demo's month (the month of its clock, when its dossiers came in)."""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from motcua.core.money import money_vnd
from motcua.core.waiting import wait_for
from motcua.runtime.settings import Settings
from ops.cli.reports import print_report


def print_ytd(console: Console, settings: Settings, expected_received: int) -> dict[str, Any]:
    """Wait until stats has counted the demo's dossiers, then print the figures."""
    base = f"http://{settings.host}:{settings.stats_port}"

    def counted() -> dict[str, Any] | None:
        figures: dict[str, Any] = httpx.get(f"{base}/v1/stats/ytd", timeout=10).json()
        return figures if figures["totals"].get("received", 0) >= expected_received else None

    figures: dict[str, Any] = wait_for(counted, "stats to count the demo's dossiers")
    table = Table(title=f"Year-to-date {figures['year']} by service (as of {figures['today']})")
    for column in (
        "procedure",
        "level",
        "received",
        "resolved",
        "in progress",
        "overdue",
        "refused/withdrawn",
        "online",
        "fees",
    ):
        table.add_column(column, justify="left" if column == "procedure" else "right")
    for p in figures["procedures"]:
        table.add_row(
            p["procedure_name"][:34],
            str(p["level"]),
            str(p["received"]),
            str(p["resolved_early"] + p["resolved_on_time"] + p["resolved_late"]),
            str(p["in_progress_on_time"] + p["in_progress_overdue"]),
            str(p["in_progress_overdue"]),
            str(p["refused"] + p["withdrawn"]),
            f"{p['online_share']:.0%}" + (" → L4" if p["eligible_for_level_4"] else ""),
            money_vnd(p["fees_vnd"]),
        )
    console.print(table)
    console.print(
        f"Public page: {base}/stats · CSV: {base}/v1/stats/ytd?format=csv · "
        f"Excel: {base}/v1/stats/ytd?format=xlsx"
    )
    return figures


def print_month_report(console: Console, settings: Settings, today: str) -> dict[str, Any]:
    """The report of the month of ``today`` (the demo's clock), by procedure, as the
    ``motcua report`` command prints it."""
    base = f"http://{settings.host}:{settings.stats_port}"
    month = today[:7]
    body: dict[str, Any] = httpx.get(
        f"{base}/v1/reports", params={"period": month}, timeout=10
    ).json()
    print_report(console, body)
    console.print(
        f"Files: {base}/v1/reports?period={month}&format=xlsx · "
        f"motcua report --period {month} --by agency"
    )
    return body
