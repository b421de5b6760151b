"""Development commands beside the operators' ``motcua``: ``python -m devtools demo``
(``make demo``) and ``python -m devtools chaos`` (``make chaos``).

They live here, not in ``ops.cli``, because the product's wheel ships neither the demo
nor the chaos suite; they drive the stack through ``ops`` like an operator would.
"""

from __future__ import annotations

from typing import Annotated

import typer

from motcua.runtime.settings import Settings
from ops.cli.common import console
from ops.cli.stack import start_detached
from ops.stack import running_supervisor, stop_supervisor

app = typer.Typer(
    help="motcua's development tools: the demo and the chaos suite.", no_args_is_help=True
)


@app.command()
def demo(
    keep: Annotated[bool, typer.Option(help="Leave the stack running afterwards")] = False,
) -> None:
    """Run a scripted scenario against the stack (started here if it is not running)."""
    from devtools.demo.run import run_demo

    settings = Settings()
    started_here = running_supervisor(settings) is None
    if started_here:
        # A stack of its own lets the demo move the services' clock to show deadlines pass.
        clock_file = (settings.var_dir / "demo-clock").resolve()
        clock_file.unlink(missing_ok=True)
        demo_env = {"MOTCUA_CLOCK_FILE": str(clock_file), "MOTCUA_OVERDUE_CHECK_SECONDS": "1"}
        settings = Settings(clock_file=clock_file)
        console.print("[bold]Starting the embedded stack[/] (motcua up --detach)…")
        start_detached(settings, extra_env=demo_env)
    try:
        run_demo(settings, console)
    finally:
        if started_here and not keep:
            console.print("Stopping the stack (use --keep to leave it running)…")
            stop_supervisor(settings)


@app.command()
def chaos(
    dossiers: Annotated[int, typer.Option(help="Dossiers driven through their lifecycle")] = 2000,
    every: Annotated[float, typer.Option(help="Seconds between two kill -9")] = 5.0,
    kills_each: Annotated[int, typer.Option(help="Kills of each service, at least")] = 3,
    concurrency: Annotated[int, typer.Option(help="Dossiers in flight at once")] = 48,
    seed: Annotated[int, typer.Option(help="Seed of the choice of victims")] = 7,
) -> None:
    """Run the full lifecycle under kill -9 of every service and a broker loss; check
    final states, payments, notices and statistics against the load's ground truth."""
    from devtools.chaos import print_result, run_chaos

    if running_supervisor(Settings()) is not None:
        console.print("[red]A stack is running (motcua up): stop it first (motcua down).[/]")
        raise typer.Exit(2)
    result = run_chaos(
        console,
        dossiers=dossiers,
        every=every,
        kills_each=kills_each,
        concurrency=concurrency,
        seed=seed,
    )
    print_result(console, result)
    if not result.verdict.passed:
        raise typer.Exit(1)


def main() -> None:
    app()
