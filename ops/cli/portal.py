"""``motcua portal list|resend|reconcile``: the dossiers' records at the national portal."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from motcua.runtime.settings import Settings
from ops.cli.common import admin_api, console

app = typer.Typer(help="Operators: synchronisation with the National Public Service Portal.")
PAGE = 200


@app.command("list")
def portal_list(
    state: Annotated[str, typer.Option(help="all, behind, failing or synced")] = "behind",
) -> None:
    """The dossiers in a state (default: those the portal lacks in their latest version)."""
    figures = admin_api("portal", "/v1/portal/summary").json()
    rows = _all("/v1/portal/records", state=state)
    table = Table(title=f"{len(rows)} {state} dossier(s) at the national portal")
    for column in ("code", "status", "version", "at portal", "attempts", "since", "error"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["code"],
            r["status"],
            str(r["version"]),
            str(r["synced_version"]),
            str(r["attempts"]),
            r["changed_at"][:19],
            (r["last_error"] or "")[:60],
        )
    console.print(table)
    share = figures["synced_share"]
    console.print(
        f"{figures['synced']} of {figures['dossiers']} dossier(s) in step with the portal"
        + (f" ({share:.1%})" if share is not None else "")
        + f"; {figures['failing']} failing; oldest change waiting "
        f"{figures['oldest_behind_seconds']:.0f} s"
    )


@app.command("resend")
def portal_resend(
    code: Annotated[
        str | None, typer.Argument(help="A dossier's code; omit with --all-failing")
    ] = None,
    all_failing: Annotated[
        bool, typer.Option("--all-failing", help="Every failing dossier")
    ] = False,
) -> None:
    """Send dossiers' latest records to the portal again now (the portal applies each
    version once, so a resend never doubles anything)."""
    if not code and not all_failing:
        console.print("[red]name a dossier code, or pass --all-failing[/]")
        raise typer.Exit(2)
    path = f"/v1/portal/records/{code}/resend" if code else "/v1/portal/resend-failing"
    queued = admin_api("portal", path, method="POST").json()["queued"]
    console.print(f"{queued} dossier(s) queued to be sent again")


@app.command("reconcile")
def portal_reconcile(
    out: Annotated[
        Path | None, typer.Option("--csv", help="CSV report; default var/portal-reconciliation.csv")
    ] = None,
) -> None:
    """Compare every dossier's record here with the portal's: missing there, behind, or
    different. Writes the differences to a CSV; exits 1 when there are any."""
    report = admin_api("portal", "/v1/portal/reconciliation").json()
    path = out or Settings().var_dir / "portal-reconciliation.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("code", "problem", "version", "portal_version", "fields"))
        for d in report["differences"]:
            writer.writerow(
                (d["code"], d["problem"], d["version"], d["portal_version"], " ".join(d["fields"]))
            )
    found = report["differences"]
    for d in found:
        console.print(
            f"  [red]{d['problem']}[/] {d['code']}: version {d['version']} here, "
            f"{d['portal_version'] if d['portal_version'] is not None else 'none'} at the portal"
            + (f" ({', '.join(d['fields'])})" if d["fields"] else "")
        )
    colour = "red" if found else "green"
    console.print(
        f"[{colour}]{len(found)} difference(s)[/] among {report['checked']} dossier(s); "
        f"every line: {path}"
    )
    if found:
        raise typer.Exit(1)


def _all(path: str, **params: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = admin_api("portal", path, limit=str(PAGE), offset=str(len(rows)), **params).json()
        rows += page
        if len(page) < PAGE:
            return rows
