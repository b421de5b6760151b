"""``motcua up``, ``down`` and ``token``: the embedded stack and development tokens."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Annotated

import typer

from motcua.core.logging import configure_logging
from motcua.runtime.settings import Settings
from motcua.web.auth import ROLES, auth_problem, issue_token
from ops.cli.common import console
from ops.stack import MissingStandIn, Stack, running_supervisor, stop_supervisor
from services.catalogue.procedures import STEP_ROLES


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
    # The services run in dev mode unless MOTCUA_DEV_MODE says otherwise (Stack.env).
    children = Settings(dev_mode=True) if "MOTCUA_DEV_MODE" not in os.environ else settings
    if problem := auth_problem(children):
        console.print(f"[red]the services would not start:[/] {problem}")
        raise typer.Exit(2)
    try:
        stack = Stack(settings)
    except MissingStandIn as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None
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


def token(
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}")],
    sub: Annotated[str, typer.Option(help="Subject: the account id")],
    agency: Annotated[str | None, typer.Option(help="Agency code (officers)")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    id_number: Annotated[str | None, typer.Option(help="12-digit ID number (citizens)")] = None,
    birthdate: Annotated[str | None, typer.Option(help="Date of birth, YYYY-MM-DD")] = None,
    address: Annotated[str | None, typer.Option(help="Place of residence")] = None,
    hours: Annotated[int, typer.Option(min=1, max=24 * 30)] = 8,
    step_role: Annotated[
        list[str] | None,
        typer.Option(
            "--step-role",
            help=f"A step role the officer holds ({', '.join(STEP_ROLES)}); repeat for "
            "several. Without it an officer's dev token holds all three",
        ),
    ] = None,
) -> None:
    """Print a bearer token signed with the configured (dev) key."""
    if role not in ROLES:
        console.print(f"[red]unknown role {role!r}[/]; use one of {', '.join(ROLES)}")
        raise typer.Exit(2)
    if role == "officer" and not agency:
        console.print("[red]an officer token needs --agency[/] (e.g. 000.00.31.H23)")
        raise typer.Exit(2)
    if step_role and role != "officer":
        console.print("[red]--step-role is for officers[/]")
        raise typer.Exit(2)
    unknown = [r for r in step_role or () if r not in STEP_ROLES]
    if unknown:
        console.print(f"[red]unknown step role {unknown[0]!r}[/]; use {', '.join(STEP_ROLES)}")
        raise typer.Exit(2)
    step_roles = list(dict.fromkeys(step_role or STEP_ROLES)) if role == "officer" else None
    settings = Settings()
    if not settings.jwt_secret.get_secret_value():
        console.print("[red]HS256 is switched off[/] (MOTCUA_JWT_SECRET is empty): no token")
        raise typer.Exit(2)
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
            step_roles=step_roles,
        )
    )
