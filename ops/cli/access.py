"""``motcua access-report``: the requests a running service answered, per day, route,
method and role, with failed sign-ins (401) and refused calls (403) apart.

The counts are the service's own (``GET /v1/access-report``, ``motcua/web/access_log.py``);
this asks for them as an operator (``common.admin_api``) and prints them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ops.cli.common import admin_api, console

# (heading, the report's column)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("requests", "requests"),
    ("ok", "succeeded"),
    ("failed login (401)", "failed_logins"),
    ("refused (403)", "refused"),
    ("other 4xx", "client_errors"),
    ("5xx", "server_errors"),
)


def access_report(
    service: Annotated[str, typer.Option(help="The service: intake, workflow, payment, …")],
    first: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: --to)")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (default: today)")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    to_file: Annotated[Path | None, typer.Option("--output", help="Write to this file")] = None,
) -> None:
    """Print (or write) a service's access report for the days from --from to --to."""
    from services.registry import NAMES

    if service not in NAMES:
        console.print(f"[red]no service {service!r}[/]; one of {', '.join(NAMES)}")
        raise typer.Exit(2)
    if output not in ("table", "json", "csv"):
        console.print(f"[red]unknown format {output!r}[/]: table, json or csv")
        raise typer.Exit(2)
    params = {"format": "json" if output == "table" else output}
    for name, value in (("from", first), ("to", last)):
        if value is not None:
            params[name] = value
    response = admin_api(service, "/v1/access-report", **params)
    if output == "table":
        print_access_report(console, response.json())
    if to_file is not None:
        to_file.write_bytes(response.content)
        console.print(f"Written: {to_file}")
    elif output != "table":
        typer.echo(response.content.decode("utf-8-sig"), nl=output == "json")


def print_access_report(console: Console, body: dict[str, Any]) -> None:
    """One row per day, route, method and role; the totals last, in bold."""
    table = Table(
        title=f"Accesses to {body['service']}, {body['first_day']} to {body['last_day']} "
        f"(as of {body['as_of']})"
    )
    for heading in ("day", "route", "method", "role"):
        table.add_column(heading, no_wrap=True)
    for heading, _ in COLUMNS:
        table.add_column(heading, justify="right")
    for row in body["rows"]:
        counts = [str(row[column]) for _, column in COLUMNS]
        table.add_row(row["day"], row["route"], row["method"], row["role"], *counts)
    totals = [str(body["totals"][column]) for _, column in COLUMNS]
    table.add_row("total", "", "", "", *totals, style="bold")
    console.print(table)
