"""``make demo`` (``python -m devtools demo``): a scripted day at the one-stop, driven
over the public HTTP API.

Citizens submit online, an officer enters a counter dossier, the one-stop accepts,
sends one back for completion and refuses one; then the demo looks dossiers up by
code and ID number and reads the events back from ``dossier-events``.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from devtools.demo.client import APPLICANTS, Applicant, DemoClient
from devtools.demo.interagency import print_feeds
from devtools.demo.notices import print_notices
from devtools.demo.payment import run_payment_demo
from devtools.demo.portal import print_portal
from devtools.demo.postal import run_postal_demo
from devtools.demo.stats import print_month_report, print_ytd
from devtools.demo.workflow import run_workflow_demo
from motcua.runtime.settings import Settings
from motcua.runtime.topic_reader import open_topic


def run_demo(settings: Settings, console: Console) -> dict[str, Any]:
    """Run the scenario; print what happened; return the figures for tests and callers."""
    client = DemoClient(
        f"http://{settings.host}:{settings.intake_port}",
        f"http://{settings.host}:{settings.workflow_port}",
        settings.jwt_secret.get_secret_value(),
    )
    outcomes: list[dict[str, Any]] = []
    plan = [
        (APPLICANTS[0], "1.001193", "online", "accept"),
        (APPLICANTS[1], "2.000720", "online", "accept"),
        (APPLICANTS[2], "1.004227", "online", "complete-then-accept"),
        (APPLICANTS[0], "2.000488", "online", "accept"),
        (APPLICANTS[1], "1.004873", "counter", "accept"),
        (APPLICANTS[2], "1.002804", "online", "refuse"),
    ]
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("Processing dossiers", total=len(plan))
        for applicant, procedure_id, channel, action in plan:
            outcomes.append(play(client, applicant, procedure_id, channel, action))
            progress.advance(task)
    print_outcomes(console, outcomes)
    lookup = outcomes[0]
    view = client.call(
        "GET", f"/v1/dossiers/{lookup['code']}", {"X-Id-Number": lookup["id_number"]}
    )
    console.print(
        f"\nLookup of [bold]{lookup['code']}[/] by code + ID number: status "
        f"[green]{view['status']}[/], result due {_return_time(view)}"
    )
    console.print(
        f"Printable receipt: {client.http.base_url}/v1/dossiers/{lookup['code']}/receipt.html"
        " (send header X-Id-Number, or a token); the QR code's lookup page: "
        f"{client.http.base_url}/lookup?code={lookup['code']}"
    )
    expected = sum(o["steps"] for o in outcomes)
    counts = asyncio.run(count_events(settings, {o["id"] for o in outcomes}, expected))
    table = Table(title=f"Events on '{settings.dossier_topic}' for these dossiers")
    table.add_column("type")
    table.add_column("count", justify="right")
    for kind, n in sorted(counts.items()):
        table.add_row(kind, str(n))
    console.print(table)

    console.rule("Workflow: the dossiers move through their processes")
    received = {o["procedure_id"]: o["id"] for o in outcomes if o["code"]}
    run_workflow_demo(client, console, received, settings.clock_file)

    console.rule("Payment: the land transfer is paid online through the gateway")
    paid = run_payment_demo(client, console, settings, received)

    console.rule("Notify: what the applicants were told")
    print_notices(client, console, settings)

    console.rule("Interagency: what the ministries' systems received")
    feeds = print_feeds(console, settings, {o["id"] for o in outcomes})

    console.rule("Postal: a birth certificate delivered by post")
    posted = run_postal_demo(client, console, settings)

    console.rule("The National Public Service Portal: what it holds of the province")
    codes = {o["code"] for o in outcomes if o["code"]} | {posted["code"]}
    portal = print_portal(console, settings, client.admin(), codes)

    # Last, as the regulation's public figures: the table and where the page is.
    console.rule("Stats: the year-to-date figures, computed from the events")
    figures = print_ytd(console, settings, expected_received=len(received))
    console.rule("Stats: the month's report, as of the end of the month or now")
    month = print_month_report(console, settings, str(figures["today"]))
    return {
        "outcomes": outcomes,
        "events": dict(counts),
        "payment": paid,
        "ytd": figures,
        "report": month,
        "interagency": feeds,
        "portal": portal,
        "postal": posted,
    }


def play(
    client: DemoClient, a: Applicant, procedure_id: str, channel: str, action: str
) -> dict[str, Any]:
    dossier_id, agency = client.submit(a, procedure_id, channel)
    officer = client.officer(agency)
    base = f"/v1/dossiers/{dossier_id}"
    code = None
    if action == "refuse":
        client.call(
            "POST",
            f"{base}/refuse",
            officer,
            json={"reason": "Hồ sơ không thuộc thẩm quyền giải quyết của đơn vị"},
        )
    else:
        if action == "complete-then-accept":
            client.call(
                "POST",
                f"{base}/request-completion",
                officer,
                json={"reason": "Bản chụp hợp đồng bị mờ, đề nghị bổ sung bản rõ nét"},
            )
            view = client.call("GET", base, client.citizen(a))
            client.call(
                "POST",
                f"{base}/resubmit",
                client.citizen(a),
                json={
                    "form_data": view["form_data"],
                    "documents": [
                        {k: d[k] for k in ("document_id", "sha256", "filename")}
                        for d in view["documents"]
                    ],
                },
            )
        code = client.call("POST", f"{base}/accept", officer)["code"]
    view = client.call("GET", base, officer)
    return {
        "id": dossier_id,
        "procedure_id": procedure_id,
        "code": code,
        "procedure": view["procedure_name"],
        "channel": channel,
        "status": view["status"],
        "id_number": a.id_number,
        "appointment": _return_time(view),
        "steps": len(view["timeline"]),
    }


def _return_time(view: dict[str, Any]) -> str | None:
    """The return time as the receipt gives it: with its hour where it has one."""
    moment = view.get("appointment_at")
    if moment is None:
        return str(view["appointment_date"]) if view["appointment_date"] else None
    return datetime.fromisoformat(moment).strftime("%d/%m/%Y %H:%M")


def print_outcomes(console: Console, outcomes: list[dict[str, Any]]) -> None:
    table = Table(title="Dossiers")
    table.add_column("code", no_wrap=True)
    for column in ("procedure", "channel", "status", "appointment", "events"):
        table.add_column(column, overflow="ellipsis", no_wrap=True)
    for o in outcomes:
        table.add_row(
            o["code"] or "—",
            o["procedure"][:28],
            o["channel"],
            o["status"],
            o["appointment"] or "—",
            str(o["steps"]),
        )
    console.print(table)


async def count_events(
    settings: Settings, dossier_ids: set[str], expected: int, timeout: float = 30.0
) -> Counter[str]:
    """Count event types for ``dossier_ids`` on ``dossier-events`` (repeats counted once),
    reading on until ``expected`` are counted or ``timeout`` s have passed."""
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with open_topic(settings, settings.dossier_topic, wait_for_topic=timeout) as reader:
        while True:
            for r in await reader.read_to_end():
                event = json.loads(r.value or b"{}")
                event_id = event.get("event_id", "")
                if (r.key or b"").decode() in dossier_ids and event_id not in seen:
                    seen.add(event_id)
                    counts[event.get("type", "?")] += 1
            if sum(counts.values()) >= expected or loop.time() >= deadline:
                return counts
            await asyncio.sleep(0.5)
