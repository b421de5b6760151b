"""The national portal's record of a dossier, and sending it: each version made once,
only the latest sent, nothing lost in an outage, nothing applied twice."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts import intake as ci
from contracts import payment as cp
from contracts import workflow as cw
from contracts.envelope import Applicant, Channel, Document, Envelope
from devtools.portal_simulator import PortalSim, create_app
from motcua.core.errors import Forbidden, NotFound
from motcua.runtime.store import store_env
from motcua.web.auth import Caller
from services.portal.adapter import PortalUnavailable
from services.portal.application import PortalApplication
from services.portal.record import apply, opened, portal_time, status_table
from services.portal.settings import PortalSettings
from tests.support.ledger import deliver
from tests.support.samples import CATALOGUE

ADMIN = Caller(sub="operator-1", role="admin")
TRANSPORT = "000.00.22.H23"
SHA = "cd" * 32
NUMBERS = itertools.count(1)


class Dossier:
    """One dossier's events, as intake, workflow and payment publish them."""

    def __init__(self, procedure_id: str = "1.002804") -> None:
        self.id, self.procedure_id = uuid.uuid4(), procedure_id
        self.number = next(NUMBERS)

    def envelope(self, producer: str = "workflow", hour: int = 3) -> dict[str, Any]:
        return {
            "event_id": uuid.uuid4(),
            "dossier_id": self.id,
            "occurred_at": datetime(2026, 3, 2, hour, 0, tzinfo=UTC),
            "producer": producer,
            "correlation_id": "req-1",
        }

    def received(self, channel: Channel = "online") -> ci.DossierReceived:
        procedure = CATALOGUE.get(self.procedure_id)
        assert procedure is not None
        return ci.DossierReceived(
            **self.envelope("intake", hour=2),
            procedure_id=procedure.id,
            procedure_name=procedure.name,
            level=procedure.level,
            agency_code=procedure.receiving_agency.code,
            channel=channel,
            applicant=Applicant(account="c-1", full_name="TRẦN THỊ BÍCH", id_number="0" * 12),
            form_data={},
            documents=(),
            code=f"{procedure.receiving_agency.code}-260302-{self.number:04d}",
            received_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
            appointment_date=date(2026, 3, 9),
            appointment_at=datetime(2026, 3, 9, 2, 0, tzinfo=UTC),
            time_limit_working_days=5,
            received_by="officer-1",
        )

    def step(self, index: int = 0, agency: str = TRANSPORT) -> cw.StepStarted:
        return cw.StepStarted(
            **self.envelope(),
            step_index=index,
            step_id=f"s{index}",
            step_name="Thẩm định",
            agency_code=agency,
            role="chuyen_vien",
            started_on=date(2026, 3, 2),
            due_date=date(2026, 3, 4),
        )

    def claimed(self) -> cw.StepClaimed:
        return cw.StepClaimed(
            **self.envelope(), step_index=0, agency_code=TRANSPORT, officer="o", assigned_by="o"
        )

    def supplement(self) -> cw.SupplementRequested:
        return cw.SupplementRequested(
            **self.envelope(hour=4),
            agency_code=TRANSPORT,
            officer="o",
            reason="Thiếu ảnh 3x4",
            documents=("anh_the",),
            requested_on=date(2026, 3, 2),
        )

    def supplied(self) -> cw.SupplementProvided:
        return cw.SupplementProvided(
            **self.envelope(hour=5),
            provided_on=date(2026, 3, 3),
            paused_working_days=1,
            appointment_date=date(2026, 3, 10),
            appointment_at=datetime(2026, 3, 10, 2, 0, tzinfo=UTC),
        )

    def fee(self) -> cp.FeeAssessed:
        return cp.FeeAssessed(
            **self.envelope("payment"),
            payment_code="PAY-1",
            amount_vnd=135_000,
            items=(cp.FeeItem(name="Lệ phí cấp GPLX", amount_vnd=135_000),),
            payment_url="http://pay",
        )

    def paid(self) -> cp.PaymentSucceeded:
        return cp.PaymentSucceeded(
            **self.envelope("payment"),
            payment_code="PAY-1",
            amount_vnd=135_000,
            method="online",
            paid_at=datetime(2026, 3, 3, 3, 0, tzinfo=UTC),
            transaction_id="T1",
            receipt_number="BL-1",
        )

    def issued(self) -> cw.ResultIssued:
        return cw.ResultIssued(
            **self.envelope(hour=8),
            agency_code=TRANSPORT,
            officer="o",
            kind="electronic",
            document=Document(
                document_id="gplx",
                filename="gplx.pdf",
                content_type="application/pdf",
                size=10,
                sha256=SHA,
            ),
            issued_at=datetime(2026, 3, 6, 8, 0, tzinfo=UTC),
            appointment_date=date(2026, 3, 10),
            timeliness="early",
        )

    def returned(self) -> cw.ResultReturned:
        return cw.ResultReturned(
            **self.envelope(hour=9), officer="o", method="electronic", returned_on=date(2026, 3, 6)
        )


class SimPortal:
    """The adapter over the simulator's own state, in-process: the sync's calls reach the
    same rules the simulator process applies, and the test can take the portal down."""

    def __init__(self, sim: PortalSim) -> None:
        self.sim, self.down, self.calls = sim, False, 0

    def send(self, record: dict[str, Any], key: str) -> None:
        self.calls += 1
        if self.down:
            raise PortalUnavailable("the portal is down (test)")
        self.sim.take(key, record)

    def fetch(self, code: str) -> dict[str, Any] | None:
        return self.sim.records.get(code)


@pytest.fixture
def sim(tmp_path: Path) -> PortalSim:
    return PortalSim("key", tmp_path / "sim")


@pytest.fixture
def portal(sim: PortalSim) -> SimPortal:
    return SimPortal(sim)


@pytest.fixture
def app(tmp_path: Path, portal: SimPortal, database_url: str | None) -> Iterator[PortalApplication]:
    """The sync on SQLite and on PostgreSQL: its upserts and leases are SQL of its own."""
    settings = PortalSettings(portal_retry_base_seconds=0.05, portal_retry_max_seconds=0.05)
    application = PortalApplication(
        store_env(database_url, str(tmp_path), "portal"),
        settings=settings,
        portal=portal,
        result_base_url="https://dichvucong.example.vn",
    )
    yield application
    application.close()


def feed(app: PortalApplication, *events: Envelope) -> None:
    deliver(app, app.store, app.handlers(), *events)


def row(app: PortalApplication, code: str) -> dict[str, Any]:
    [found] = app.records(ADMIN, "all", code, 1, 0)
    return found


# -- the record -------------------------------------------------------------------------


def test_the_record_follows_the_dossier_from_receipt_to_its_return() -> None:
    d, table = Dossier(), status_table()
    record = opened(d.received(channel="post"), table)
    assert record["MaHoSo"] == d.received().code
    assert record["KenhThucHien"] == "3"
    assert record["NgayTiepNhan"] == "20260302090000"  # 02:00 UTC is 09:00 in Vietnam
    assert record["NgayHenTra"] == "20260309090000"
    assert record["TrangThaiHoSo"] == "2"
    assert record["PhienBanBangTrangThai"] == table.version
    states = []
    for event in (d.step(), d.supplement(), d.supplied(), d.fee(), d.paid(), d.issued()):
        record = apply(record, event, table, "https://dvc.example.vn")
        states.append(record["TrangThaiHoSo"])
    assert states == ["4", "5", "4", "4", "4", "9"]
    [asked] = record["DanhSachHoSoBoSung"]
    assert asked["LyDo"] == "Thiếu ảnh 3x4"
    assert asked["NgayBoSung"] == "20260302120000"
    assert record["NgayHenTraMoi"] == "20260310090000"
    assert record["DanhSachLePhi"] == [
        {"TenLePhi": "Lệ phí cấp GPLX", "MucThu": 135_000, "DaThanhToan": True}
    ]
    [result] = record["DanhSachGiayToKetQua"]
    assert result["DuongDanTepTinKetQua"] == (
        f"https://dvc.example.vn/v1/dossiers/{record['MaHoSo']}/result/document"
    )
    assert record["NgayKetThucXuLy"] == portal_time(datetime(2026, 3, 6, 8, 0, tzinfo=UTC))
    record = apply(record, d.returned(), table)
    assert record["TrangThaiHoSo"] == "10"
    assert record["NgayTra"] == "20260302160000"


def test_a_date_only_appointment_is_due_at_the_office_s_close() -> None:
    assert portal_time(date(2026, 3, 9)) == "20260309170000"


# -- versions -----------------------------------------------------------------------------


def test_each_change_is_one_version_and_events_that_change_nothing_make_none(
    app: PortalApplication,
) -> None:
    d = Dossier()
    feed(app, d.fee())  # before its receipt: not a dossier the portal knows yet
    assert app.records(ADMIN, "all", None, 50, 0) == []
    feed(app, d.received(), d.step(), d.claimed(), d.step())
    found = row(app, d.received().code)
    assert found["version"] == 2  # opened, then processing; the claim and the repeat: nothing
    assert found["record"]["TrangThaiHoSo"] == "4"
    assert found["synced_version"] == 0


def test_the_latest_version_reaches_the_portal_once_after_an_outage(
    app: PortalApplication, portal: SimPortal, sim: PortalSim
) -> None:
    d = Dossier()
    code = d.received().code
    portal.down = True
    feed(app, d.received())
    assert app.push_due() == 1
    failing = row(app, code)
    assert failing["attempts"] == 1
    assert "down" in failing["last_error"]
    feed(app, d.step(), d.supplement())  # two more versions while the portal is down
    assert app.summary()["behind"] == 1
    assert app.summary()["failing"] == 1
    portal.down = False
    time.sleep(0.06)  # the backoff
    assert app.push_due() == 1
    assert sim.applied[code] == [3]  # only the latest version, once
    assert sim.records[code]["TrangThaiHoSo"] == "5"
    synced = row(app, code)
    assert (synced["synced_version"], synced["attempts"], synced["last_error"]) == (3, 0, None)
    assert app.push_due() == 0
    assert app.summary() == {
        "dossiers": 1,
        "synced": 1,
        "behind": 0,
        "failing": 0,
        "synced_share": 1.0,
        "oldest_behind_seconds": 0.0,
    }


def test_an_answer_lost_after_the_portal_applied_the_call_applies_nothing_twice(
    tmp_path: Path,
) -> None:
    sim = PortalSim("key", tmp_path / "sim")
    client = TestClient(create_app(sim))
    headers = {"X-Api-Key": "key", "Idempotency-Key": "H23-1:1"}
    record = {"MaHoSo": "H23-1", "PhienBan": 1, "TrangThaiHoSo": "2"}
    client.post("/sim/config", json={"mode": "twice"})
    first = client.post("/DongBoHoSoMC", json=record, headers=headers)
    again = client.post("/DongBoHoSoMC", json=record, headers=headers)
    assert (first.status_code, again.status_code) == (503, 200)
    assert again.json()["result"] == "duplicate"
    client.post("/sim/config", json={"mode": "ok"})
    older = client.post(
        "/DongBoHoSoMC",
        json={**record, "PhienBan": 0},
        headers={**headers, "Idempotency-Key": "H23-1:0"},
    )
    assert older.json()["result"] == "stale"
    assert client.get("/sim/calls").json()["applied"] == {"H23-1": [1]}
    # What it applied survives a restart.
    assert PortalSim("key", tmp_path / "sim").records == {"H23-1": record}


def test_the_simulator_refuses_calls_without_its_key_or_a_record(tmp_path: Path) -> None:
    client = TestClient(create_app(PortalSim("key", tmp_path)))
    ok = {"X-Api-Key": "key", "Idempotency-Key": "k"}
    assert client.post("/DongBoHoSoMC", json={}, headers={"X-Api-Key": "x"}).status_code == 401
    assert client.post("/DongBoHoSoMC", json={}, headers={"X-Api-Key": "key"}).status_code == 400
    assert client.post("/DongBoHoSoMC", json={"a": 1}, headers=ok).status_code == 422
    assert client.get("/TraCuuHoSo/none", headers=ok).status_code == 404


def test_two_instances_never_send_the_same_record_at_once(app: PortalApplication) -> None:
    d = Dossier()
    feed(app, d.received())
    first = app._lease(str(d.id))
    assert first is not None
    assert first["version"] == 1
    assert app._lease(str(d.id)) is None  # leased until the send ends (or its lease does)
    feed(app, d.step())  # a newer version meanwhile does not end the lease
    assert app._lease(str(d.id)) is None


def test_reconciliation_names_the_dossiers_missing_behind_or_different(
    app: PortalApplication, sim: PortalSim
) -> None:
    synced, behind, missing, different = Dossier(), Dossier(), Dossier(), Dossier()
    feed(app, synced.received(), behind.received(), different.received())
    app.push_due()
    feed(app, behind.step(), missing.received())  # made after the last send
    code = different.received().code
    sim.records[code] = {**sim.records[code], "TrangThaiHoSo": "9"}  # changed at the portal
    report = app.reconcile(ADMIN)
    assert report["checked"] == 4
    found = {
        d["code"]: (d["problem"], d["portal_version"], d["fields"]) for d in report["differences"]
    }
    assert found == {
        behind.received().code: ("behind", 1, ["TrangThaiHoSo"]),
        missing.received().code: ("missing", None, []),
        code: ("different", 1, ["TrangThaiHoSo"]),
    }


def test_a_resend_sends_the_latest_version_again_with_the_same_key(
    app: PortalApplication, portal: SimPortal, sim: PortalSim
) -> None:
    d = Dossier()
    code = d.received().code
    feed(app, d.received())
    app.push_due()
    assert app.resend(ADMIN, code) == 1
    assert row(app, code)["synced_version"] == 0
    calls = portal.calls
    app.push_due()
    assert portal.calls == calls + 1
    assert sim.received[f"{code}:1"] == 2
    assert sim.applied[code] == [1]
    assert row(app, code)["synced_version"] == 1
    with pytest.raises(NotFound):
        app.resend(ADMIN, "no-such-code")
    with pytest.raises(Forbidden):
        app.resend(Caller(sub="o", role="officer", agency=TRANSPORT), code)
