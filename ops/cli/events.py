"""The commands on the dossier topic: ``motcua republish`` after a broker lost its data,
``motcua audit`` of a dossier's hash chain, ``motcua replay stats``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from motcua.core.logging import configure_logging
from motcua.runtime.settings import Settings
from ops.cli.common import console
from ops.stack import running_supervisor


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


def audit(
    code: Annotated[
        str,
        typer.Argument(
            help="The dossier's code, e.g. 000.00.01.H01-261122-0001; or calendar, for "
            "every change of the working calendar; or directory, for who held which step "
            "role when"
        ),
    ],
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
    """Print a dossier's full timeline with actors and times and verify its hash chain
    (``calendar``: the working calendar's changes, with who made them and why;
    ``directory``: the directory's, with who held which step role at which agency when).

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
