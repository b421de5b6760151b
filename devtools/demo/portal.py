"""The national portal's end of the demo: its view of the dossiers beside the province's.

Waits until the portal sync has sent every dossier's latest record, then prints, per
dossier, the status the province holds and the one the portal (its simulator) holds,
with the version each side has, and the reconciliation's count.
"""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from motcua.core.waiting import wait_for
from motcua.runtime.settings import Settings
from services.portal.record import status_table
from services.portal.settings import PortalSettings


def print_portal(
    console: Console, settings: Settings, admin: dict[str, str], codes: set[str]
) -> dict[str, Any]:
    base = f"http://{settings.host}:{settings.portal_port}"
    sim = f"http://127.0.0.1:{PortalSettings().portal_sim_port}"
    names = status_table().names

    def in_step() -> dict[str, dict[str, Any]] | None:
        rows = httpx.get(
            f"{base}/v1/portal/records", params={"limit": 200}, headers=admin, timeout=10
        ).json()
        ours = {r["code"]: r for r in rows if r["code"] in codes}
        done = len(ours) == len(codes) and all(
            r["synced_version"] == r["version"] for r in ours.values()
        )
        return ours if done else None

    ours: dict[str, dict[str, Any]] = wait_for(in_step, "the national portal to be in step", 60)
    held: dict[str, dict[str, Any]] = httpx.get(f"{sim}/sim/records", timeout=10).json()
    table = Table(title="The national portal's view beside the province's (portal, port 8009)")
    for column in ("MaHoSo", "province: status", "version", "portal: TrangThaiHoSo", "PhienBan"):
        table.add_column(column)
    same = 0
    for code in sorted(ours):
        mine, theirs = ours[code], held.get(code, {})
        status = theirs.get("TrangThaiHoSo")
        table.add_row(
            code,
            f"{mine['status']} {names.get(mine['status'], '')}",
            str(mine["version"]),
            f"{status} {names.get(status or '', '')}" if status else "—",
            str(theirs.get("PhienBan", "—")),
        )
        same += theirs == {**mine["record"], "PhienBan": mine["version"]}
    console.print(table)
    report = httpx.get(f"{base}/v1/portal/reconciliation", headers=admin, timeout=60).json()
    console.print(
        f"{same} of {len(ours)} dossiers identical at the portal; the reconciliation finds "
        f"{len(report['differences'])} difference(s) among {report['checked']} dossier(s)"
    )
    return {"dossiers": len(ours), "identical": same, "differences": len(report["differences"])}
