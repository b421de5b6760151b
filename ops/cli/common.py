"""What the commands share: the console they print to and the operator's call to a
running service."""

from __future__ import annotations

import shutil
from typing import Any

import httpx
import typer
from rich.console import Console

from motcua.runtime.settings import Settings
from motcua.web.auth import issue_token

# Wide enough for the demo's tables also when the output is a file or a CI log.
console = Console(width=max(shutil.get_terminal_size((120, 40)).columns, 110))


def admin_api(
    service: str, path: str, method: str = "GET", body: Any = None, **params: str
) -> httpx.Response:
    """Call a service of the running stack as an operator (admin token, configured key),
    with the JSON ``body`` if given; prints the service's error and exits 1 on a 4xx/5xx."""
    settings = Settings()
    token = issue_token(settings.jwt_secret.get_secret_value(), sub="operator-cli", role="admin")
    url = f"http://{settings.host}:{settings.port_of(service)}{path}"
    try:
        response = httpx.request(
            method,
            url,
            params=params or None,
            json=body,
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
