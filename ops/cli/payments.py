"""``motcua payments reconcile``: a day's payments against the gateway's settlement file."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from motcua.core.money import money_vnd
from motcua.runtime.settings import Settings
from ops.cli.common import admin_api, console

app = typer.Typer(help="Operators: payments and the gateway's settlement.")


@app.command("reconcile")
def payments_reconcile(
    day: Annotated[
        datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Settlement day, YYYY-MM-DD")
    ],
    out: Annotated[
        Path | None, typer.Option(help="CSV report; default var/reconciliation-<date>.csv")
    ] = None,
) -> None:
    """Match the gateway's settlement file of a day against recorded payments.

    Prints a summary and writes every line to a CSV. Exits with 1 when anything does
    not match, so that a scheduled run can alert."""
    when = day.date().isoformat()
    report = admin_api("payment", f"/v1/reconciliations/{when}", method="POST").json()
    path = out or Settings().var_dir / f"reconciliation-{when}.csv"
    write_reconciliation_csv(report, path)
    print_reconciliation(console, report, path)
    if any(n for outcome, n in report["counts"].items() if outcome != "matched"):
        raise typer.Exit(1)


def write_reconciliation_csv(report: dict[str, Any], path: Path) -> None:
    columns = ("transaction_id", "kind", "payment_code", "recorded_vnd", "gateway_vnd", "outcome")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(report["lines"])


def print_reconciliation(console: Console, report: dict[str, Any], path: Path) -> None:
    table = Table(title=f"Reconciliation {report['day']}", caption="gateway settlement vs records")
    table.add_column("outcome")
    table.add_column("transactions", justify="right")
    for outcome, n in report["counts"].items():
        style = "green" if outcome == "matched" else ("red" if n else "")
        table.add_row(f"[{style}]{outcome}[/]" if style else outcome, str(n))
    table.add_row("recorded total", money_vnd(report["recorded_vnd"]))
    table.add_row("gateway total", money_vnd(report["gateway_vnd"]))
    console.print(table)
    for line in report["lines"]:
        if line["outcome"] != "matched":
            console.print(
                f"  [red]{line['outcome']}[/] {line['kind']} {line['transaction_id']} "
                f"(code {line['payment_code']}): recorded {line['recorded_vnd']}, "
                f"gateway {line['gateway_vnd']}"
            )
    console.print(f"Every line: {path}")
