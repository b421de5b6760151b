"""The notify part of the demo: what each applicant was told, on which channel."""

from __future__ import annotations

import time
from collections import Counter

import httpx
from rich.console import Console
from rich.table import Table

from devtools.demo.client import APPLICANTS, DemoClient
from motcua.runtime.settings import Settings
from services.notify.settings import NotifySettings


def print_notices(client: DemoClient, console: Console, settings: Settings) -> None:
    """Inbox items per applicant, and what reached the dev SMTP and SMS sinks."""
    notify = f"http://{settings.host}:{settings.notify_port}"
    sinks = f"http://127.0.0.1:{NotifySettings().sinks_port}"
    time.sleep(3)  # let the delivery loop drain what the last steps planned
    table = Table(title="Notices sent to applicants (inbox · e-mail · SMS)")
    for column in ("applicant", "kind", "inbox", "e-mail", "sms"):
        table.add_column(column)
    try:
        mail = httpx.get(f"{sinks}/mail", timeout=5).json()
        sms = httpx.get(f"{sinks}/sms", timeout=5).json()
    except httpx.HTTPError:
        console.print("(no local sinks: a real SMTP server / SMS gateway is configured)")
        mail, sms = [], []
    for a in APPLICANTS:
        inbox = httpx.get(f"{notify}/v1/inbox", headers=client.citizen(a), timeout=5).json()
        kinds = Counter(item["kind"] for item in inbox)
        emails = Counter(m["subject"].split(":")[0] for m in mail if a.sub in m["to"][0])
        texts = sum(1 for m in sms if m["to"] == a.phone)
        for kind, n in sorted(kinds.items()):
            table.add_row(a.name, kind, str(n), "", "")
        table.add_row(a.name, "—", "", f"{sum(emails.values())} e-mails", f"{texts} SMS")
    console.print(table)
    console.print(f"Read them: {sinks}/mail and {sinks}/sms; the inbox: GET {notify}/v1/inbox")
