"""``motcua calendar show|set|clear|hours|import|deadline``: the working calendar the
appointments are counted in, through intake's API (each change is an event: ``motcua
audit calendar`` lists them)."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from motcua.core.calendar import VIETNAM_TZ
from ops.cli.common import admin_api, console
from services.catalogue.procedures import DATA_FILE

app = typer.Typer(help="Administrators: days off, make-up working days and office hours.")

# The days the government announced that the holidays library does not hold, as shipped.
SHIPPED = DATA_FILE.parent / "working-calendar-2026.json"

Reason = Annotated[str, typer.Option(help="The announcement: its number and date")]


@app.command("show")
def show(
    year: Annotated[int | None, typer.Option(help="The year (default: this one)")] = None,
) -> None:
    """The calendar in force for a year: sessions, entered days, weekdays off."""
    year = year or datetime.now(VIETNAM_TZ).year
    calendar = admin_api("intake", "/v1/calendar", year=str(year)).json()
    sessions = ", ".join(f"{s['start'][:5]}–{s['end'][:5]}" for s in calendar["sessions"])
    console.print(
        f"Working calendar {year}, version {calendar['version']}: sessions {sessions} "
        f"({calendar['working_hours_per_day']:g} working hours a day)"
    )
    entered = Table(title=f"{len(calendar['entered'])} day(s) entered")
    for column in ("day", "made", "reason", "by", "when", "version"):
        entered.add_column(column)
    for d in calendar["entered"]:
        made = "working day" if d["working"] else "day off"
        entered.add_row(d["day"], made, d["reason"], d["changed_by"], d["changed_at"][:16],
                        str(d["version"]))  # fmt: skip
    console.print(entered)
    off = Table(title="Weekdays not worked, and weekend days worked")
    off.add_column("day")
    off.add_column("why")
    for d in sorted(calendar["days_off"] + calendar["working_weekend_days"], key=_day):
        off.add_row(f"{d['day']} {date.fromisoformat(d['day']):%a}", d["why"])
    console.print(off)


@app.command("set")
def set_day(
    day: Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="YYYY-MM-DD")],
    reason: Reason,
    off: Annotated[bool, typer.Option("--off", help="Make it a day off (ngày nghỉ bù)")] = False,
    working: Annotated[
        bool, typer.Option("--working", help="Make it a working day (ngày làm bù)")
    ] = False,
) -> None:
    """Enter a day as a day off or a working day, whatever the holiday rules say."""
    if off == working:
        console.print("[red]say --off or --working[/]")
        raise typer.Exit(2)
    kind = "day_off" if off else "working_day"
    changed = _put_day(day.date(), kind, reason)
    console.print(f"{day:%Y-%m-%d} entered as {kind.replace('_', ' ')}: version {changed}")


@app.command("clear")
def clear_day(
    day: Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="YYYY-MM-DD")],
    reason: Reason,
) -> None:
    """Remove an entered day: the holiday rules decide it again."""
    path = f"/v1/calendar/days/{day:%Y-%m-%d}"
    changed = admin_api("intake", path, method="DELETE", reason=reason).json()["version"]
    console.print(f"{day:%Y-%m-%d} cleared: version {changed}")


@app.command("hours")
def set_hours(
    sessions: Annotated[list[str], typer.Argument(help="Sessions, e.g. 07:30-11:30 13:30-17:00")],
    reason: Reason,
) -> None:
    """Set the office sessions in which time limits are counted."""
    body = {"sessions": [_session(s) for s in sessions], "reason": reason}
    changed = admin_api("intake", "/v1/calendar/office-hours", method="PUT", body=body).json()
    console.print(f"office hours {' '.join(sessions)}: version {changed['version']}")


@app.command("import")
def import_days(
    file: Annotated[Path, typer.Argument(help="A JSON file of days")] = SHIPPED,
) -> None:
    """Enter the days of a file (by default the 2026 days shipped with motcua) that the
    calendar does not hold yet as given; days entered alike already are left alone."""
    try:
        days: list[dict[str, Any]] = json.loads(file.read_text(encoding="utf-8"))["days"]
    except (OSError, ValueError, KeyError) as error:
        console.print(f"[red]cannot read {file}[/]: {error}")
        raise typer.Exit(2) from None
    entered: dict[str, dict[str, Any]] = {}
    for year in sorted({d["day"][:4] for d in days}):
        calendar = admin_api("intake", "/v1/calendar", year=year).json()
        entered.update({d["day"]: d for d in calendar["entered"]})
    added = 0
    for d in days:
        held = entered.get(d["day"])
        if (
            held
            and held["working"] == (d["kind"] == "working_day")
            and held["reason"] == d["reason"]
        ):
            continue
        _put_day(date.fromisoformat(d["day"]), d["kind"], d["reason"])
        added += 1
    console.print(f"{added} day(s) entered, {len(days) - added} already held, from {file.name}")


@app.command("deadline")
def deadline(
    received_at: Annotated[str, typer.Argument(help="e.g. 2025-12-31T16:00+07:00")],
    working_days: Annotated[float, typer.Argument(help="The time limit, e.g. 5 or 0.25")],
) -> None:
    """When a time limit from a moment ends by the calendar in force."""
    due = admin_api(
        "intake", "/v1/calendar/deadline", received_at=received_at, working_days=str(working_days)
    ).json()
    console.print(
        f"{working_days:g} working day(s) from {received_at}: due {due['due_at']} "
        f"(calendar version {due['calendar_version']})"
    )


def _put_day(day: date, kind: str, reason: str) -> int:
    body = {"kind": kind, "reason": reason}
    path = f"/v1/calendar/days/{day.isoformat()}"
    version: int = admin_api("intake", path, method="PUT", body=body).json()["version"]
    return version


def _session(text: str) -> dict[str, str]:
    start, sep, end = text.partition("-")
    try:
        if not sep:
            raise ValueError
        return {"start": time.fromisoformat(start).isoformat("minutes"),
                "end": time.fromisoformat(end).isoformat("minutes")}  # fmt: skip
    except ValueError:
        console.print(f"[red]{text!r} is not a session such as 07:30-11:30[/]")
        raise typer.Exit(2) from None


def _day(row: dict[str, Any]) -> str:
    return str(row["day"])
