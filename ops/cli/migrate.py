"""``motcua migrate``: bring the stores to this release's schema."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from motcua.core.logging import configure_logging
from motcua.runtime.settings import Settings
from ops.cli.common import console


def migrate(
    service: Annotated[
        str | None, typer.Option(help="One service's store (default: every service's)")
    ] = None,
) -> None:
    """Bring the services' stores to this release's schema, and print their versions.

    Every service does the same when it starts (opening its store applies the steps it
    lacks, once, under a lock), so this is optional: it lets an operator upgrade the
    stores before starting the new release, and see where each one is. Safe while the
    services run."""
    from services.registry import SERVICES, UnknownService, open_store
    from services.registry import service as find_service

    settings = Settings()
    configure_logging("WARNING")
    try:
        entries = [find_service(service)] if service else list(SERVICES)
    except UnknownService as error:
        console.print(f"[red]{error.args[0]}[/]")
        raise typer.Exit(2) from None
    table = Table(title="Store schemas")
    for column in ("service", "component", "was", "now", "steps applied"):
        table.add_column(column)
    for entry in entries:
        opened = open_store(entry, settings)  # opening the store migrates it
        done = opened.store.migrated
        applied = ", ".join(map(str, done.applied)) or "none"
        table.add_row(entry.name, done.component, str(done.before), str(done.after), applied)
        opened.app.close()
    console.print(table)
