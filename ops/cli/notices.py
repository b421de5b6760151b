"""``motcua notices list|resend``: notices that could not be delivered."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ops.cli.common import admin_api, console

app = typer.Typer(help="Operators: notices that could not be delivered.")


@app.command("list")
def notices_list(
    status: Annotated[str, typer.Option(help="pending, retrying, delivered, failed, …")] = "failed",
) -> None:
    """List notices with a given status (default: failed)."""
    rows = admin_api("notify", "/v1/notices", status=status, limit="200").json()
    table = Table(title=f"{len(rows)} {status} notice(s)")
    for column in ("id", "dossier", "kind", "channel", "attempts", "error"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["id"],
            r["dossier_id"][:8],
            r["kind"],
            r["channel"],
            str(r["attempts"]),
            (r["error"] or "")[:60],
        )
    console.print(table)


@app.command("resend")
def notices_resend(
    notice_id: Annotated[
        str | None, typer.Argument(help="One notice; omit with --all-failed")
    ] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Every failed notice")] = False,
) -> None:
    """Give failed notices a new round of delivery attempts."""
    if not notice_id and not all_failed:
        console.print("[red]name a notice id, or pass --all-failed[/]")
        raise typer.Exit(2)
    ids = (
        [notice_id]
        if notice_id
        else [
            r["id"] for r in admin_api("notify", "/v1/notices", status="failed", limit="200").json()
        ]
    )
    for one in ids:
        admin_api("notify", f"/v1/notices/{one}/resend", method="POST")
    console.print(f"{len(ids)} notice(s) queued again")
