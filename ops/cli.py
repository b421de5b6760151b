"""The ``motcua`` command of operators: run the stack, print dev tokens, list and resend
notices, republish, audit, replay the figures, reconcile payments.

The demo and the chaos suite are development tools: ``python -m devtools demo|chaos``."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from motcua.core.logging import configure_logging
from motcua.core.money import money_vnd
from motcua.runtime.settings import Settings
from motcua.web.auth import ROLES, issue_token
from ops.stack import Stack, running_supervisor, stop_supervisor

app = typer.Typer(help="motcua: the single-window (một cửa) backend.", no_args_is_help=True)
# Wide enough for the demo's tables also when the output is a file or a CI log.
console = Console(width=max(shutil.get_terminal_size((120, 40)).columns, 110))


@app.command()
def up(
    detach: Annotated[
        bool, typer.Option(help="Start in the background and return when ready")
    ] = False,
) -> None:
    """Start the broker (unless one is configured) and every service, supervised."""
    settings = Settings()
    if running_supervisor(settings):
        console.print("[yellow]motcua is already running[/] (motcua down to stop it)")
        raise typer.Exit(1)
    if detach:
        start_detached(settings)
        return
    configure_logging(settings.log_level)
    stack = Stack(settings)
    stack.start()
    try:
        stack.wait_ready(progress=lambda name: console.print(f"[green]ready[/] {name}"))
    except (TimeoutError, KeyboardInterrupt) as error:
        stack.stop()
        console.print(f"[red]{error}[/]; see {settings.var_dir}/logs/")
        raise typer.Exit(1) from None
    print_urls(stack)
    console.print("Ctrl-C (or [bold]motcua down[/]) stops everything.")
    stack.run_forever()


def start_detached(settings: Settings, extra_env: dict[str, str] | None = None) -> None:
    """``motcua up`` in the background, with ``extra_env`` added to this process's
    environment for the stack only."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.var_dir / "motcua.log"
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "up"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(extra_env or {})},
        )
    stack = Stack(settings)
    deadline = time.monotonic() + 120
    with console.status("starting broker and services…"):
        while running_supervisor(settings) is None or not all_ready(stack):
            if process.poll() is not None or time.monotonic() > deadline:
                console.print(f"[red]motcua did not start[/]; see {log_path}")
                raise typer.Exit(1)
            time.sleep(0.3)
    print_urls(stack)


def all_ready(stack: Stack) -> bool:
    try:
        stack.wait_ready(timeout=0.5)
    except TimeoutError:
        return False
    return True


def print_urls(stack: Stack) -> None:
    for name, url in stack.urls().items():
        console.print(f"  {name:9} {url}  (API docs: {url}/docs)")
    console.print(
        f"  kafka     {stack.settings.bootstrap_servers}  topic {stack.settings.dossier_topic}"
    )


@app.command()
def down() -> None:
    """Stop a running ``motcua up`` and all its processes."""
    settings = Settings()
    if running_supervisor(settings) is None:
        console.print("motcua is not running")
        return
    if not stop_supervisor(settings):
        console.print("[red]motcua did not stop in time[/]")
        raise typer.Exit(1)
    console.print("stopped")


@app.command()
def token(
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}")],
    sub: Annotated[str, typer.Option(help="Subject: the account id")],
    agency: Annotated[str | None, typer.Option(help="Agency code (officers)")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    id_number: Annotated[str | None, typer.Option(help="12-digit ID number (citizens)")] = None,
    birthdate: Annotated[str | None, typer.Option(help="Date of birth, YYYY-MM-DD")] = None,
    address: Annotated[str | None, typer.Option(help="Place of residence")] = None,
    hours: Annotated[int, typer.Option(min=1, max=24 * 30)] = 8,
) -> None:
    """Print a bearer token signed with the configured (dev) key."""
    if role not in ROLES:
        console.print(f"[red]unknown role {role!r}[/]; use one of {', '.join(ROLES)}")
        raise typer.Exit(2)
    if role == "officer" and not agency:
        console.print("[red]an officer token needs --agency[/] (e.g. 000.00.31.H23)")
        raise typer.Exit(2)
    settings = Settings()
    print(
        issue_token(
            settings.jwt_secret.get_secret_value(),
            sub=sub,
            role=role,
            agency=agency,
            name=name,
            id_number=id_number,
            birthdate=birthdate,
            address=address,
            ttl_seconds=hours * 3600,
        )
    )


notices_app = typer.Typer(help="Operators: notices that could not be delivered.")
app.add_typer(notices_app, name="notices")


def _admin_api(service: str, path: str, method: str = "GET", **params: str) -> httpx.Response:
    """Call a service of the running stack as an operator (admin token, configured key)."""
    settings = Settings()
    token = issue_token(settings.jwt_secret.get_secret_value(), sub="operator-cli", role="admin")
    url = f"http://{settings.host}:{settings.port_of(service)}{path}"
    try:
        response = httpx.request(
            method,
            url,
            params=params or None,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
    except httpx.HTTPError as error:
        console.print(f"[red]cannot reach {service} at {url}[/]: {error}")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        console.print(f"[red]{method} {path}: {response.status_code}[/] {response.text}")
        raise typer.Exit(1)
    return response


@notices_app.command("list")
def notices_list(
    status: Annotated[str, typer.Option(help="pending, retrying, delivered, failed, …")] = "failed",
) -> None:
    """List notices with a given status (default: failed)."""
    rows = _admin_api("notify", "/v1/notices", status=status, limit="200").json()
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


@notices_app.command("resend")
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
            r["id"]
            for r in _admin_api("notify", "/v1/notices", status="failed", limit="200").json()
        ]
    )
    for one in ids:
        _admin_api("notify", f"/v1/notices/{one}/resend", method="POST")
    console.print(f"{len(ids)} notice(s) queued again")


@app.command()
def republish(
    force: Annotated[
        bool, typer.Option(help="Publish even though the topic is not empty (duplicates)")
    ] = False,
) -> None:
    """Rebuild the dossier topic from the services' stores after the broker lost its data.

    Stop the services first (the embedded stack does all of this by itself when its
    broker restarts). Consumers then read the new topic from the start and skip what
    they had applied."""
    import asyncio

    from rich.progress import Progress

    from ops.republish import open_sources, topic_is_empty
    from ops.republish import republish as run_republish

    settings = Settings()
    configure_logging(settings.log_level)
    if running_supervisor(settings):
        console.print("[red]the embedded stack is running[/]; it republishes by itself")
        raise typer.Exit(1)
    if not force and not asyncio.run(topic_is_empty(settings)):
        console.print(
            f"[red]{settings.dossier_topic} is not empty[/]: stop the services and recreate "
            "the topic, or pass --force to publish everything again anyway"
        )
        raise typer.Exit(1)
    sources = open_sources(settings)
    total = sum(s.last_position() for s in sources if s.to_contract is not None)
    with Progress(console=console) as progress:
        task = progress.add_task("Republishing", total=total or None)
        counts = asyncio.run(run_republish(settings, sources, lambda n: progress.advance(task, n)))
    table = Table(title=f"Republished to {settings.dossier_topic}")
    table.add_column("producer")
    table.add_column("events", justify="right")
    for name, n in counts.items():
        table.add_row(name, str(n))
    console.print(table)


@app.command()
def audit(
    code: Annotated[str, typer.Argument(help="The dossier's code, e.g. 000.00.01.H01-261122-0001")],
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
            help="Show the dossier as it stood then (Vietnam time)",
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="Audit an export (JSON lines) instead of the topic")
    ] = None,
    export: Annotated[
        Path | None, typer.Option(help="Also write the dossier's messages to this file")
    ] = None,
    stores: Annotated[
        bool, typer.Option(help="Check each strand's end against the services' stores")
    ] = True,
) -> None:
    """Print a dossier's full timeline with actors and times and verify its hash chain.

    Exits with 1 when the chain is broken (and says where), 2 when the dossier or the
    export cannot be found."""
    import asyncio

    from motcua.core.calendar import VIETNAM_TZ
    from ops import audit as auditing

    settings = Settings()
    configure_logging("WARNING")
    moment = as_of.replace(tzinfo=VIETNAM_TZ) if as_of else None
    from ops.republish import open_sources

    sources = open_sources(settings) if (file is None or stores) else []
    dossier_id = auditing.dossier_id_of(sources, code) if sources else None
    if file is not None:
        try:
            events = auditing.read_export(file)
        except (OSError, ValueError) as error:
            console.print(f"[red]cannot read the export[/]: {error}")
            raise typer.Exit(2) from None
    elif dossier_id is None:
        console.print(f"[red]no dossier with code {code}[/] in intake's store")
        raise typer.Exit(2)
    else:
        events = asyncio.run(auditing.read_topic(settings, dossier_id))
    heads = auditing.store_heads(sources, dossier_id) if stores and dossier_id else None
    record = auditing.audit(events, heads)
    if export is not None:
        auditing.write_export(record.events, export)
        console.print(f"{len(record.events)} messages written to {export}")
    auditing.print_audit(console, code, record, moment)
    if record.breaks:
        raise typer.Exit(1)


replay_app = typer.Typer(help="Operators: rebuild a read model from the whole dossier topic.")
app.add_typer(replay_app, name="replay")


@replay_app.command("stats")
def replay_stats(
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes reading partitions (default: one per CPU)"),
    ] = None,
) -> None:
    """Rebuild the statistics from offset 0 of the dossier topic and swap them in.

    Safe while the stats service runs: the new tables replace the old ones at once, and
    its consumer goes on after the replay's positions, so nothing is counted twice."""
    import asyncio

    from aiokafka.errors import KafkaError
    from rich.progress import MofNCompleteColumn, Progress

    from ops.replay import ReplayError
    from ops.replay import replay_stats as run_replay
    from services.stats.main import build_application

    settings = Settings()
    configure_logging("WARNING")
    stats = build_application(settings)
    # Refreshed by hand, not by a thread: the replay forks its reading processes.
    progress = Progress(
        *Progress.get_default_columns(), MofNCompleteColumn(), console=console, auto_refresh=False
    )
    task = progress.add_task(f"Replaying {settings.dossier_topic}", total=None)

    def advance(read: int, total: int) -> None:
        # The embedded broker reports the start of each partition's last batch as its
        # end, so the replay may read a little more than the total it announced.
        progress.update(task, completed=read, total=max(read, total))
        progress.refresh()

    try:
        with progress:
            replayed = asyncio.run(run_replay(settings, stats, advance, workers=workers))
    except KafkaError as error:
        console.print(f"[red]cannot reach the broker at {settings.bootstrap_servers}[/]: {error}")
        raise typer.Exit(1) from None
    except ReplayError as error:
        console.print(f"[red]replay failed[/]: {error}")
        raise typer.Exit(1) from None
    table = Table(
        title=f"Stats replayed from {settings.dossier_topic} and swapped in", show_header=False
    )
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("events read", f"{replayed.events:,}")
    table.add_row("events applied", f"{replayed.applied:,}")
    table.add_row("dossiers", f"{replayed.dossiers:,}")
    table.add_row("seconds", f"{replayed.seconds:.2f}")
    table.add_row("events/s", f"{replayed.events_per_second:,.0f}")
    table.add_row("reading processes", str(replayed.workers))
    table.add_row("catch-ups with the live consumer", str(replayed.catch_ups))
    console.print(table)


payments_app = typer.Typer(help="Operators: payments and the gateway's settlement.")
app.add_typer(payments_app, name="payments")


@payments_app.command("reconcile")
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
    report = _admin_api("payment", f"/v1/reconciliations/{when}", method="POST").json()
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


@app.command()
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
