"""``motcua report``: a period's report from the running stats service, as a table or a file.

The report is computed by stats (``GET /v1/reports``, ``services/stats/reports.py``); this
only asks for it and prints it, so the command gives exactly what the API and the files
give. The same call as the other commands (``common.admin_api``), though reports are public.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ops.cli.common import admin_api, console

# (column, the counts it shows): the table keeps to the screen; the files have every column.
TABLE_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("carried", ("carried_over",)),
    ("received", ("received",)),
    ("online", ("received_online",)),
    ("early", ("resolved_early",)),
    ("on time", ("resolved_on_time",)),
    ("late", ("resolved_late",)),
    ("late, apol.", ("resolved_late_apologised",)),
    ("by post", ("resolved_by_post",)),
    ("open", ("open_on_time",)),
    ("overdue", ("open_overdue",)),
    ("paused", ("paused",)),
    ("withdrawn", ("withdrawn",)),
    ("refused", ("refused",)),
)


def report(
    period: Annotated[
        str | None, typer.Option(help="2026-03, 2026-Q1, 2026-H1 or 2026 (or --from/--to)")
    ] = None,
    first: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD")] = None,
    by: Annotated[
        str, typer.Option(help="procedure, field, agency, level or channel")
    ] = "procedure",
    output: Annotated[str, typer.Option("--format", help="table, json, csv or xlsx")] = "table",
    to_file: Annotated[Path | None, typer.Option("--output", help="Write to this file")] = None,
) -> None:
    """Print (or write) the report of a period, as of its end, grouped by one key."""
    if output not in ("table", "json", "csv", "xlsx"):
        console.print(f"[red]unknown format {output!r}[/]: table, json, csv or xlsx")
        raise typer.Exit(2)
    params = {"by": by, "format": "json" if output == "table" else output}
    for name, value in (("period", period), ("from", first), ("to", last)):
        if value is not None:
            params[name] = value
    response = admin_api("stats", "/v1/reports", **params)
    if output == "table":
        body = response.json()
        print_report(console, body)
        if to_file is not None:
            to_file.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
        return
    if to_file is not None:
        to_file.write_bytes(response.content)
        console.print(f"Written: {to_file}")
    elif output == "xlsx":
        console.print("[red]an XLSX file needs --output FILE[/]")
        raise typer.Exit(2)
    else:
        typer.echo(response.content.decode("utf-8-sig"), nl=output == "json")


def print_report(console: Console, body: dict[str, Any]) -> None:
    """The report as a rich table: one row per group, the totals last."""
    state = "" if body["complete"] else " (not over: as of now)"
    table = Table(
        title=f"Report {body['period']} ({body['first_day']} to {body['last_day']}) "
        f"by {body['by']}{state}"
    )
    table.add_column(body["by"], no_wrap=True, min_width=24, max_width=40)
    for name, _ in TABLE_COLUMNS:
        table.add_column(name, justify="right")
    for row in [*body["rows"], body["totals"]]:
        label = str(row["label"])[:34]
        cells = [str(sum(row[c] for c in counts)) for _, counts in TABLE_COLUMNS]
        style = "bold" if row["key"] is None else None
        table.add_row(label, *cells, style=style)
    console.print(table)
