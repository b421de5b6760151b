"""A dossier as the National Public Service Portal records it, built from our events.

Decision 31/2021/QĐ-TTg (art. 30) asks the province to send the portal each dossier's
information, its progress, its result links and its fees. The portal's record of a
dossier is one document (the ``DongBoHoSoMC`` call creates or replaces it), so this
module keeps the same shape: a flat dict of the portal's field names, rebuilt as each
event arrives, with the status mapped through the versioned table in
``data/statuses.json``. Pure functions, no I/O: ``apply(record, event)`` returns the
record after the event, or the same record when the event changes nothing the portal
holds (a claim, an approval), so only real changes make new versions to send.

Dates are the portal's ``yyyyMMddHHmmss`` in Vietnam's time.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import contracts.intake as ci
import contracts.payment as cp
import contracts.workflow as cw
from contracts.envelope import Envelope

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
STATUS_TABLE = Path(__file__).with_name("data") / "statuses.json"
# KenhThucHien: 1 at the counter, 2 online, 3 by post.
CHANNELS = {"counter": "1", "online": "2", "post": "3"}
# A date-only appointment (events from before working hours) is due at the office's close.
OFFICE_CLOSE = time(17, 0)

Record = dict[str, Any]


@dataclass(frozen=True)
class StatusTable:
    version: int
    codes: dict[str, str]  # our state -> the portal's TrangThaiHoSo
    names: dict[str, str]  # the portal's TrangThaiHoSo -> its name

    def code(self, state: str) -> str:
        return self.codes[state]


@cache
def status_table(path: Path = STATUS_TABLE) -> StatusTable:
    data = json.loads(path.read_text(encoding="utf-8"))
    return StatusTable(
        version=int(data["version"]),
        codes={state: str(entry["code"]) for state, entry in data["statuses"].items()},
        names={str(entry["code"]): entry["name"] for entry in data["statuses"].values()},
    )


def portal_time(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        return moment.astimezone(VIETNAM).strftime("%Y%m%d%H%M%S")
    return datetime.combine(moment, OFFICE_CLOSE).strftime("%Y%m%d%H%M%S")


def _due(at: datetime | None, on: date) -> str:
    return portal_time(at if at is not None else on)


def opened(event: ci.DossierReceived, table: StatusTable) -> Record:
    """The record the portal gets when the one-stop accepts the dossier."""
    return {
        "MaHoSo": event.code,
        "MaTTHC": event.procedure_id,
        "TenTTHC": event.procedure_name,
        "MaCoQuan": event.agency_code,
        "KenhThucHien": CHANNELS[event.channel],
        "ChuHoSo": event.applicant.full_name,
        "NgayTiepNhan": portal_time(event.received_at),
        "NgayHenTra": _due(event.appointment_at, event.appointment_date),
        "NgayHenTraMoi": None,
        "TrangThaiHoSo": table.code("received"),
        "PhienBanBangTrangThai": table.version,
        "DonViXuLy": event.agency_code,
        "NgayKetThucXuLy": None,
        "NgayTra": None,
        "HinhThucTra": None,
        "TaiLieuNop": [
            {"TenTepDinhKem": d.filename, "MaGiayTo": d.document_id, "SHA256": d.sha256}
            for d in event.documents
        ],
        "DanhSachLePhi": [],
        "DanhSachHoSoBoSung": [],
        "DanhSachGiayToKetQua": [],
    }


# The events that change the portal's record of a dossier (DossierReceived opens it).
CHANGES: tuple[type[Envelope], ...] = (
    cw.StepStarted,
    cw.DossierHandedOver,
    cw.SupplementRequested,
    cw.SupplementProvided,
    cw.ApologyIssued,
    cw.DossierRejected,
    cw.ResultIssued,
    cw.ResultReturned,
    ci.DossierWithdrawn,
    cp.FeeAssessed,
    cp.FeeWaived,
    cp.PaymentSucceeded,
)


def apply(
    record: Record, event: Envelope, table: StatusTable, result_base_url: str | None = None
) -> Record:
    """The record after ``event`` (a new dict; ``record`` is left as it was)."""
    r: Record = copy.deepcopy(record)
    status = table.code
    r["PhienBanBangTrangThai"] = table.version
    if isinstance(event, cw.StepStarted):
        if r["TrangThaiHoSo"] == status("received"):
            r["TrangThaiHoSo"] = status("processing")
        r["DonViXuLy"] = event.agency_code
    elif isinstance(event, cw.DossierHandedOver):
        r["DonViXuLy"] = event.to_agency
    elif isinstance(event, cw.SupplementRequested):
        r["TrangThaiHoSo"] = status("supplement")
        r["DanhSachHoSoBoSung"].append(
            {
                "NgayYeuCau": portal_time(event.occurred_at),
                "LyDo": event.reason,
                "GiayToYeuCau": list(event.documents),
                "NgayBoSung": None,
            }
        )
    elif isinstance(event, cw.SupplementProvided):
        r["TrangThaiHoSo"] = status("processing")
        for request in reversed(r["DanhSachHoSoBoSung"]):
            if request["NgayBoSung"] is None:
                request["NgayBoSung"] = portal_time(event.occurred_at)
                break
        r["NgayHenTraMoi"] = _due(event.appointment_at, event.appointment_date)
    elif isinstance(event, cw.ApologyIssued):
        r["NgayHenTraMoi"] = portal_time(event.appointment_date)
    elif isinstance(event, cw.DossierRejected):
        r["TrangThaiHoSo"] = status("refused")
        r["NgayKetThucXuLy"] = portal_time(event.occurred_at)
    elif isinstance(event, cw.ResultIssued):
        r["TrangThaiHoSo"] = status("resolved")
        r["NgayKetThucXuLy"] = portal_time(event.issued_at)
        r["HinhThucTra"] = event.kind
        if event.document is not None:
            link = (
                f"{result_base_url.rstrip('/')}/v1/dossiers/{r['MaHoSo']}/result/document"
                if result_base_url and event.kind == "electronic"
                else None
            )
            r["DanhSachGiayToKetQua"].append(
                {
                    "TenGiayTo": event.document.filename,
                    "MaGiayTo": event.document.document_id,
                    "SHA256": event.document.sha256,
                    "DuongDanTepTinKetQua": link,
                }
            )
    elif isinstance(event, cw.ResultReturned):
        r["TrangThaiHoSo"] = status("returned")
        r["NgayTra"] = portal_time(event.occurred_at)
    elif isinstance(event, ci.DossierWithdrawn):
        r["TrangThaiHoSo"] = status("withdrawn")
        r["NgayKetThucXuLy"] = portal_time(event.occurred_at)
    elif isinstance(event, cp.FeeAssessed):
        r["DanhSachLePhi"] = [
            {"TenLePhi": item.name, "MucThu": item.amount_vnd, "DaThanhToan": False}
            for item in event.items
        ]
    elif isinstance(event, cp.FeeWaived):
        r["DanhSachLePhi"] = []
    elif isinstance(event, cp.PaymentSucceeded):
        for fee in r["DanhSachLePhi"]:
            fee["DaThanhToan"] = True
    return r


def differences(ours: Record, theirs: Record) -> list[str]:
    """The fields whose values differ, by name, sorted (``PhienBan`` left out)."""
    names = (set(ours) | set(theirs)) - {"PhienBan"}
    return sorted(n for n in names if ours.get(n) != theirs.get(n))
