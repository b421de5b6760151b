"""The postal end of the demo: a birth certificate posted to the applicant.

A citizen submits asking for the result by post; the commune issues it for post; the
postal operator (its simulator) takes the order, picks the parcel up and delivers it,
sending every callback twice. Prints the shipment's steps as postal recorded them (each
once) and the dossier's timeline, where the delivery is the result's return.
"""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from devtools.demo.client import APPLICANTS, DemoClient
from devtools.demo.workflow import Officers, wait_for_process
from motcua.core.waiting import wait_for
from motcua.runtime.settings import Settings
from services.postal.settings import PostalSettings

BIRTH = "1.001193"
ADDRESS = {
    "recipient": "LÊ MINH CHÂU",
    "phone": "0912000003",
    "street": "Số 45, đường Nguyễn Huệ",
    "ward": "Phường 1",
    "district": "",
    "province": "Đồng Tháp",
}


def run_postal_demo(client: DemoClient, console: Console, settings: Settings) -> dict[str, Any]:
    postal = f"http://{settings.host}:{settings.postal_port}"
    sim = httpx.Client(base_url=f"http://127.0.0.1:{PostalSettings().postal_sim_port}", timeout=10)
    sim.post("/sim/config", json={"duplicates": 1})  # every callback twice
    dossier_id, agency = client.submit(APPLICANTS[2], BIRTH, delivery_address=ADDRESS)
    code = client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))["code"]
    wait_for_process(client, dossier_id)
    o = Officers(client, dossier_id)
    o.do("complete-step", notes="Đã tiếp nhận, chuyển thẩm định")
    o.do("complete-step", notes="Thông tin hợp lệ, đã ghi sổ hộ tịch")
    o.do("approve", notes="Đồng ý cấp giấy khai sinh")
    o.do("complete-step", notes="Đã ký giấy khai sinh")
    o.do("result", kind="post")

    def ordered() -> str | None:
        for shipment in sim.get("/sim/shipments").json()["shipments"]:
            if shipment["order"]["code"] == code:
                return str(shipment["tracking_number"])
        return None

    tracking: str = wait_for(ordered, "the postal operator to take the order")
    for status in ("picked_up", "delivered"):
        sim.post(
            f"/sim/shipments/{tracking}/advance", json={"status": status, "received_by": "Châu"}
        )

    def returned() -> dict[str, Any] | None:
        t: dict[str, Any] = client.act("GET", f"/v1/dossiers/{dossier_id}/timeline", client.admin())
        return t if t["status"] == "returned" else None

    timeline: dict[str, Any] = wait_for(returned, "the delivery to return the result")
    shipment = httpx.get(
        f"{postal}/v1/postal/shipments/{code}", headers=client.admin(), timeout=10
    ).json()
    table = Table(title=f"Shipment {tracking} of {code} (postal, port {settings.postal_port})")
    for column in ("step", "at"):
        table.add_column(column)
    for step in shipment["steps"]:
        table.add_row(step["status"], str(step["at"])[:19])
    console.print(table)
    console.print(
        "Timeline: "
        + " → ".join(e["event"] for e in timeline["history"][-3:])
        + f"; the result was returned by [bold]{timeline['history'][-1]['by']}[/]"
        " (each callback came twice, each step was recorded once)"
    )
    return {"code": code, "tracking_number": tracking, "steps": len(shipment["steps"])}
