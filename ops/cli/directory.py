"""``motcua directory show|add-agency|set-officer|remove-officer``: the directory of
agencies and officers by which workflow assigns steps, through intake's API (each
change is an event: ``motcua audit directory`` lists them)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ops.cli.common import admin_api, console

app = typer.Typer(help="Administrators: agencies, and the officers' step roles at each.")

Reason = Annotated[str, typer.Option(help="The decision: its number and date")]


@app.command("show")
def show(
    agency: Annotated[str | None, typer.Option(help="Only the officers of this agency")] = None,
) -> None:
    """The agencies, and the officers with their step roles (the directory only: what
    officers' tokens say is not in it)."""
    agencies = admin_api("intake", "/v1/directory/agencies").json()
    params = {"agency": agency} if agency else {}
    officers = admin_api("intake", "/v1/directory/officers", **params).json()
    console.print(f"Directory version {officers['version']}")
    table = Table(title=f"{len(agencies['agencies'])} agency(ies)")
    for column in ("code", "name", "by", "when", "version"):
        table.add_column(column)
    for a in agencies["agencies"]:
        table.add_row(
            a["code"], a["name"], a["changed_by"], a["changed_at"][:16], str(a["version"])
        )
    console.print(table)
    table = Table(title=f"{len(officers['officers'])} officer(s)")
    for column in ("officer", "agency", "step roles", "reason", "by", "when", "version"):
        table.add_column(column)
    for o in officers["officers"]:
        table.add_row(o["officer"], o["agency_code"], " ".join(o["step_roles"]), o["reason"],
                      o["changed_by"], o["changed_at"][:16], str(o["version"]))  # fmt: skip
    console.print(table)


@app.command("add-agency")
def add_agency(
    code: Annotated[str, typer.Argument(help="QCVN 102:2016 code, e.g. 001.20.51.H23")],
    name: Annotated[str, typer.Argument(help="The agency's name")],
    reason: Reason,
) -> None:
    """Enter an agency in the directory (or correct its name)."""
    body = {"name": name, "reason": reason}
    changed = admin_api("intake", f"/v1/directory/agencies/{code}", method="PUT", body=body)
    console.print(f"agency {code} ({name}): version {changed.json()['version']}")


@app.command("set-officer")
def set_officer(
    sub: Annotated[str, typer.Argument(help="The officer's subject (the token's sub)")],
    agency: Annotated[str, typer.Option(help="QCVN 102:2016 code of the agency")],
    role: Annotated[
        list[str], typer.Option("--role", help="mot_cua, chuyen_vien or lanh_dao; repeatable")
    ],
    reason: Reason,
) -> None:
    """List an officer at an agency with their step roles, replacing what they held."""
    body = {"agency": agency, "step_roles": role, "reason": reason}
    changed = admin_api("intake", f"/v1/directory/officers/{sub}", method="PUT", body=body)
    console.print(
        f"officer {sub} at {agency} as {' '.join(role)}: version {changed.json()['version']}"
    )


@app.command("remove-officer")
def remove_officer(
    sub: Annotated[str, typer.Argument(help="The officer's subject (the token's sub)")],
    reason: Reason,
) -> None:
    """Remove an officer from the directory: no step may be assigned to them any more."""
    path = f"/v1/directory/officers/{sub}"
    changed = admin_api("intake", path, method="DELETE", reason=reason).json()["version"]
    console.print(f"officer {sub} removed: version {changed}")
