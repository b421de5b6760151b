"""The workflow half of the demo: received dossiers move through their processes.

A birth registration runs to its electronic result; a land transfer crosses three
agencies and stops at the payment gate; a business registration needs a supplement;
a marital-status certificate runs late and gets an apology (when the demo controls the
clock). Each dossier's timeline is printed at the end.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from devtools.demo.client import APPLICANTS, DemoClient
from devtools.pdf import one_page_pdf
from motcua.core.waiting import wait_for

BIRTH, BUSINESS, LAND, MARITAL = "1.001193", "2.000720", "1.004227", "1.004873"


class Officers:
    """Acts on a dossier as the officer of whichever agency holds it now."""

    def __init__(self, client: DemoClient, dossier_id: str) -> None:
        self.client, self.dossier_id = client, dossier_id

    def holder(self) -> str:
        timeline = self.client.act(
            "GET", f"/v1/dossiers/{self.dossier_id}/timeline", self.client.admin()
        )
        return str(timeline["agency_code"])

    def do(self, action: str, **body: Any) -> None:
        self.client.act(
            "POST",
            f"/v1/dossiers/{self.dossier_id}/{action}",
            self.client.officer(self.holder()),
            json=body,
        )


def has_process(client: DemoClient, dossier_id: str) -> bool:
    """Whether workflow has started the dossier's process (it consumed the reception)."""
    flow = client.flow.get(f"/v1/dossiers/{dossier_id}/timeline", headers=client.admin())
    return flow.status_code == 200


def wait_for_process(client: DemoClient, dossier_id: str, timeout: float = 30.0) -> None:
    wait_for(
        functools.partial(has_process, client, dossier_id),
        f"workflow to start the process of {dossier_id}",
        timeout,
    )


def birth_to_electronic_result(client: DemoClient, dossier_id: str) -> str:
    o = Officers(client, dossier_id)
    o.do("complete-step", notes="Đã tiếp nhận, chuyển thẩm định")
    o.do("complete-step", notes="Thông tin hợp lệ, đã ghi sổ hộ tịch")
    o.do("approve", notes="Đồng ý cấp giấy khai sinh")
    o.do("complete-step", notes="Đã ký giấy khai sinh")
    # An unsigned PDF: workflow signs it with the commune's (development) certificate.
    certificate = one_page_pdf("Giấy khai sinh (bản điện tử)", f"Hồ sơ {dossier_id}")
    upload = client.act(
        "POST",
        "/v1/attachments",
        client.officer(o.holder()),
        files={"file": ("giay-khai-sinh.pdf", certificate, "application/pdf")},
    )
    o.do(
        "result",
        kind="electronic",
        document={
            "document_id": "giay_khai_sinh",
            "sha256": upload["sha256"],
            "filename": "giay-khai-sinh.pdf",
        },
    )
    o.do("returned", method="electronic")
    return "electronic result returned"


def land_to_payment_gate(client: DemoClient, dossier_id: str) -> str:
    o = Officers(client, dossier_id)
    for notes in ("Đủ hồ sơ", "Hồ sơ hợp lệ", "Đã xác định nghĩa vụ tài chính"):
        o.do("complete-step", notes=notes)
        o.do("hand-over")
    o.do("complete-step", notes="Đã cập nhật biến động")
    o.do("approve", notes="Đồng ý")
    o.do("complete-step", notes="Đã ký xác nhận")
    o.do("hand-over")
    timeline = client.act("GET", f"/v1/dossiers/{dossier_id}/timeline", client.admin())
    return f"at the one-stop; result blocked: {timeline['blocked']}"


def business_with_supplement(client: DemoClient, dossier_id: str) -> str:
    o = Officers(client, dossier_id)
    o.do("complete-step", notes="Đủ hồ sơ")
    o.do("hand-over")
    o.do(
        "request-supplement",
        reason="Thiếu bản sao giấy tờ chứng minh địa điểm kinh doanh",
        documents=["giay_de_nghi_dang_ky"],
    )
    citizen = client.citizen(APPLICANTS[1])
    upload = client.act(
        "POST",
        "/v1/attachments",
        citizen,
        files={"file": ("bo-sung.pdf", b"%PDF-1.4 bo sung", "application/pdf")},
    )
    client.act(
        "POST",
        f"/v1/dossiers/{dossier_id}/supplement",
        citizen,
        json={
            "documents": [
                {
                    "document_id": "giay_de_nghi_dang_ky",
                    "sha256": upload["sha256"],
                    "filename": "bo-sung.pdf",
                }
            ]
        },
    )
    o.do("complete-step", notes="Hồ sơ hợp lệ sau bổ sung")
    return "supplement provided; back in process"


def marital_runs_late(client: DemoClient, dossier_id: str, clock_file: Path | None) -> str:
    if clock_file is None:
        return "overdue case skipped: run `make demo` without a running stack to let days pass"
    clock_file.write_text((datetime.now(UTC) + timedelta(days=9)).isoformat())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        timeline = client.act("GET", f"/v1/dossiers/{dossier_id}/timeline", client.admin())
        if timeline["overdue"]:
            break
        time.sleep(0.3)
    else:
        raise TimeoutError("the clock did not mark the dossier overdue")
    new_date = (datetime.fromisoformat(clock_file.read_text()) + timedelta(days=3)).date()
    client.act(
        "POST",
        f"/v1/dossiers/{dossier_id}/apology",
        client.officer(timeline["responsible_agency"]),
        json={"reason": "Cán bộ thụ lý vắng đột xuất", "appointment_date": str(new_date)},
    )
    return f"overdue ({timeline['responsible_agency']} late); apology, new date {new_date}"


def run_workflow_demo(
    client: DemoClient, console: Console, received: dict[str, str], clock_file: Path | None
) -> None:
    """Drive the received dossiers (procedure id -> dossier id) and print their timelines."""
    scenarios = [
        (BIRTH, birth_to_electronic_result),
        (LAND, land_to_payment_gate),
        (BUSINESS, business_with_supplement),
    ]
    summary = []
    for procedure_id, scenario in scenarios:
        wait_for_process(client, received[procedure_id])
        summary.append((procedure_id, scenario(client, received[procedure_id])))
    wait_for_process(client, received[MARITAL])
    summary.append((MARITAL, marital_runs_late(client, received[MARITAL], clock_file)))
    for procedure_id, outcome in summary:
        print_timeline(console, client, received[procedure_id], outcome)


def print_timeline(console: Console, client: DemoClient, dossier_id: str, outcome: str) -> None:
    t = client.act("GET", f"/v1/dossiers/{dossier_id}/timeline", client.admin())
    table = Table(
        title=f"{t['code']} · {t['procedure_name'][:50]} · {t['status']}",
        caption=f"{outcome}; appointment {t['appointment_date']}",
    )
    for column in ("#", "step", "agency", "officer", "started", "due", "done", "late"):
        table.add_column(column, no_wrap=column != "step")
    for s in t["steps"]:
        table.add_row(
            str(s["index"]),
            s["name"][:38],
            s["agency_code"],
            s["officer"] or "",
            s["started_on"] or "",
            s["due_date"] or "",
            s["completed_on"] or "",
            "yes" if s["overdue"] else "",
        )
    console.print(table)
