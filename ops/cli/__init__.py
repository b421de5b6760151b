"""The ``motcua`` command of operators: run the stack, print dev tokens, list and resend
notices, keep the working calendar and the directory of officers, republish, audit,
replay the figures, print a period's report, reconcile payments, keep the national
portal in step, migrate the stores,
print a service's access report.
One module per group of commands; this one assembles them.

The demo and the chaos suite are development tools: ``python -m devtools demo|chaos``."""

from __future__ import annotations

import typer

from ops.cli import (
    access,
    calendar,
    directory,
    events,
    migrate,
    notices,
    payments,
    portal,
    reports,
    stack,
)

app = typer.Typer(help="motcua: the single-window (một cửa) backend.", no_args_is_help=True)
app.command()(stack.up)
app.command()(stack.down)
app.command()(stack.token)
app.add_typer(notices.app, name="notices")
app.add_typer(calendar.app, name="calendar")
app.add_typer(directory.app, name="directory")
app.command()(events.republish)
app.command()(events.audit)
app.add_typer(events.replay_app, name="replay")
app.command()(reports.report)
app.add_typer(payments.app, name="payments")
app.add_typer(portal.app, name="portal")
app.command()(migrate.migrate)
app.command(name="access-report")(access.access_report)


def main() -> None:
    app()
