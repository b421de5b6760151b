"""The payment half of the demo: fees of every dossier, the land transfer paid
online through the gateway simulator's page (as a browser does it), its result issued,
its electronic receipt, and the day's reconciliation with the gateway's settlement."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from devtools.demo.client import DemoClient
from motcua.core.calendar import local_date
from motcua.core.money import money_vnd
from motcua.core.waiting import wait_for
from motcua.runtime.settings import Settings
from ops.cli.payments import print_reconciliation, write_reconciliation_csv

LAND = "1.004227"


def run_payment_demo(
    client: DemoClient, console: Console, settings: Settings, received: dict[str, str]
) -> dict[str, Any]:
    """Pay the land transfer online, finish it, print bills, receipt and reconciliation."""
    pay = httpx.Client(base_url=f"http://{settings.host}:{settings.payment_port}", timeout=30)
    admin = client.admin()

    def bill(dossier_id: str) -> dict[str, Any] | None:
        response = pay.get(f"/v1/payments/{dossier_id}", headers=admin)
        return response.json() if response.status_code == 200 else None

    land = received[LAND]
    code = wait_for(lambda: bill(land), "the land transfer's bill")["payment_code"]
    console.print(f"Public pay page: {pay.base_url}/pay/{code}")
    browser = httpx.Client(timeout=30)
    to_gateway = pay.post(f"/pay/{code}")  # the page's "Thanh toán trực tuyến" button
    gateway_page = to_gateway.headers["location"]
    browser.get(gateway_page).raise_for_status()
    back = browser.post(f"{gateway_page}/approve")  # the applicant approves at the gateway
    console.print(f"Gateway page {gateway_page} → approved → back to {back.headers['location']}")
    paid = wait_for(lambda: (b := bill(land)) and b["status"] == "paid" and b, "the payment")
    payment = paid["payments"][0]

    wait_for(
        lambda: client.act("GET", f"/v1/dossiers/{land}/timeline", admin)["paid"],
        "workflow to open the payment gate",
    )
    one_stop = client.act("GET", f"/v1/dossiers/{land}/timeline", admin)["agency_code"]
    officer = client.officer(one_stop)
    client.act("POST", f"/v1/dossiers/{land}/result", officer, json={"kind": "pickup"})
    client.act("POST", f"/v1/dossiers/{land}/returned", officer, json={"method": "pickup"})
    console.print(
        f"Paid {money_vnd(payment['amount_vnd'])} online; workflow issued the result and "
        f"returned it. Receipt {payment['receipt_number']}: "
        f"{pay.base_url}/v1/receipts/{payment['receipt_number']}/print (with a token)"
    )

    print_bills(console, [b for d in received.values() if (b := bill(d))])
    day = local_date(datetime.fromisoformat(payment["paid_at"]))
    report = pay.post(f"/v1/reconciliations/{day.isoformat()}", headers=admin)
    report.raise_for_status()
    path = settings.var_dir / f"reconciliation-{day.isoformat()}.csv"
    write_reconciliation_csv(report.json(), path)
    print_reconciliation(console, report.json(), path)
    return {"receipt": payment["receipt_number"], "reconciliation": report.json()["counts"]}


def print_bills(console: Console, bills: list[dict[str, Any]]) -> None:
    table = Table(title="Fees of the received dossiers (payment service)")
    for column in ("dossier", "payment code", "procedure", "amount", "status", "receipt"):
        table.add_column(column, no_wrap=column != "procedure")
    for b in bills:
        receipts = ", ".join(p["receipt_number"] for p in b["payments"])
        table.add_row(
            b["dossier_code"],
            b["payment_code"] or "—",
            b["procedure_name"][:30],
            money_vnd(b["amount_vnd"]),
            b["status"] if not b["waived_reason"] else f"waived: {b['waived_reason'][:24]}",
            receipts or "—",
        )
    console.print(table)
