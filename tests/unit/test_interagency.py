"""The inter-agency feeds: what a ministry sees of a dossier, and the configuration."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from contracts import intake as ci
from contracts import interagency as ia
from contracts import workflow as cw
from contracts.envelope import Applicant, Document, Envelope
from contracts.events import encode
from motcua.runtime.mapping import contracts_of
from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from services.catalogue.procedures import load_catalogue
from services.interagency.application import InteragencyApplication
from services.interagency.feeds import Feed, feeds_of
from services.interagency.ministries import (
    ALLOWED_FIELDS,
    MinistriesError,
    Ministry,
    load_ministries,
    parse_ministries,
)
from tests.support.ledger import deliver

CRIMINAL_RECORD, LAND, MARITAL = "2.000488", "1.004227", "1.004873"  # bca, btnmt, neither
JUSTICE, POLICE = "000.00.20.H23", "000.00.30.H23"
NAME, ID_NUMBER, PHONE, EMAIL = "NGUYỄN THỊ LAN", "001190000001", "0912000001", "lan@example.vn"
BIRTH_DATE, ADDRESS, SHA = "1990-05-17", "Số 12, đường Trần Phú, phường 3", "ab" * 32
OFFICER, NOTES, REASON = "officer-tran-van-binh", "Gọi bà Lan 0912000001", "Bà Lan thiếu bản sao"
PERSONAL = (NAME, ID_NUMBER, PHONE, EMAIL, BIRTH_DATE, ADDRESS, SHA, OFFICER, NOTES, REASON)


class Dossier:
    """Source events of one dossier, as intake and workflow publish them."""

    def __init__(self, procedure_id: str) -> None:
        self.id = uuid.uuid4()
        self.procedure_id = procedure_id

    def envelope(self, producer: str = "workflow") -> dict[str, Any]:
        return {
            "event_id": uuid.uuid4(),
            "dossier_id": self.id,
            "occurred_at": datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
            "producer": producer,
            "correlation_id": "req-1",
        }

    def received(self) -> ci.DossierReceived:
        procedure = load_catalogue().get(self.procedure_id)
        assert procedure is not None
        return ci.DossierReceived(
            **self.envelope("intake"),
            procedure_id=procedure.id,
            procedure_name=procedure.name,
            level=procedure.level,
            agency_code=procedure.receiving_agency.code,
            channel="online",
            applicant=Applicant(
                account="citizen-001", full_name=NAME, id_number=ID_NUMBER, phone=PHONE, email=EMAIL
            ),
            form_data={
                "ho_ten": NAME,
                "so_dinh_danh": ID_NUMBER,
                "ngay_sinh": BIRTH_DATE,
                "dia_chi": ADDRESS,
                "so_dien_thoai": PHONE,
                "email": EMAIL,
            },
            documents=(
                Document(
                    document_id="giay_to_tuy_than",
                    filename=f"cccd-{ID_NUMBER}.pdf",
                    content_type="application/pdf",
                    size=10,
                    sha256=SHA,
                ),
            ),
            code=f"{procedure.receiving_agency.code}-260302-0001",
            received_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
            appointment_date=date(2026, 3, 16),
            time_limit_working_days=procedure.time_limit_working_days,
            received_by=OFFICER,
        )

    def step_started(self, index: int, agency: str) -> cw.StepStarted:
        return cw.StepStarted(
            **self.envelope(),
            step_index=index,
            step_id=f"step_{index}",
            step_name=f"Bước {index}",
            agency_code=agency,
            role="chuyen_vien",
            started_on=date(2026, 3, 2),
            due_date=date(2026, 3, 4),
        )

    def step_completed(self, index: int, agency: str) -> cw.StepCompleted:
        return cw.StepCompleted(
            **self.envelope(),
            step_index=index,
            step_id=f"step_{index}",
            agency_code=agency,
            officer=OFFICER,
            notes=NOTES,
            completed_on=date(2026, 3, 3),
            late=False,
        )

    def handed_over(self, index: int, from_agency: str, to_agency: str) -> cw.DossierHandedOver:
        return cw.DossierHandedOver(
            **self.envelope(),
            from_agency=from_agency,
            to_agency=to_agency,
            step_index=index,
            officer=OFFICER,
        )

    def supplement_requested(self) -> cw.SupplementRequested:
        return cw.SupplementRequested(
            **self.envelope(),
            agency_code=POLICE,
            officer=OFFICER,
            reason=REASON,
            documents=("giay_to_tuy_than",),
            requested_on=date(2026, 3, 4),
        )

    def supplement_provided(self) -> cw.SupplementProvided:
        return cw.SupplementProvided(
            **self.envelope(),
            provided_on=date(2026, 3, 6),
            paused_working_days=2,
            appointment_date=date(2026, 3, 18),
        )

    def rejected(self) -> cw.DossierRejected:
        return cw.DossierRejected(
            **self.envelope(), agency_code=JUSTICE, officer=OFFICER, reason=REASON
        )

    def withdrawn(self) -> ci.DossierWithdrawn:
        return ci.DossierWithdrawn(**self.envelope(), reason=REASON, withdrawn_by="citizen-001")


class Harness:
    """The application with its store; delivers events as the tracked consumer does."""

    def __init__(self, folder: Path, ministries: tuple[Ministry, ...] | None = None) -> None:
        catalogue = load_catalogue()
        self.app = InteragencyApplication(
            store_env(None, str(folder), "interagency"),
            catalogue=catalogue,
            ministries=ministries if ministries is not None else load_ministries(None, catalogue),
        )
        self.feeds = {f.ministry or "": f for f in feeds_of(Settings(), ministries_of(self.app))}

    def deliver(self, *events: Envelope) -> None:
        for event in events:  # one batch each, as the tests' order of events asks
            deliver(self.app, self.app.store, self.app.handlers(), event, name="interagency")

    def published(self, ministry: str = "") -> list[ia.InteragencyEvent]:
        """What the feed's relay would publish, in order."""
        return list(self._published(self.feeds[ministry]))

    def _published(self, feed: Feed) -> Iterator[ia.InteragencyEvent]:
        stored = [
            self.app.mapper.to_domain_event(n)
            for n in self.app.recorder.select_notifications(1, 10_000)
        ]
        for event in contracts_of(stored, feed.to_contract, self.app.repository):
            if event is not None:
                assert isinstance(event, ia.InteragencyEvent)
                yield event


def ministries_of(app: InteragencyApplication) -> tuple[Ministry, ...]:
    return tuple(app.ministries.values())


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def a_full_story(d: Dossier) -> list[Envelope]:
    return [
        d.received(),
        d.step_started(0, JUSTICE),
        d.step_completed(0, JUSTICE),
        d.handed_over(1, JUSTICE, POLICE),
        d.step_started(1, POLICE),
        d.supplement_requested(),
        d.supplement_provided(),
        d.rejected(),
    ]


# -- the mapping ----------------------------------------------------------------------


def test_the_default_feed_carries_no_personal_data_of_a_full_event(harness: Harness) -> None:
    harness.deliver(*a_full_story(Dossier(CRIMINAL_RECORD)))

    published = harness.published()

    assert len(published) == 8
    for event in published:
        message = encode(event).decode()
        assert not [p for p in PERSONAL if p in message], message
        assert "officer" not in message
        assert "notes" not in message
    received = published[0]
    assert isinstance(received, ia.InteragencyDossierReceived)
    assert received.applicant is None
    assert received.form_data is None


def test_a_ministry_feed_adds_only_the_fields_it_is_configured_for(harness: Harness) -> None:
    harness.deliver(*a_full_story(Dossier(CRIMINAL_RECORD)))

    default, bca = harness.published(), harness.published("bca")

    received = bca[0]
    assert isinstance(received, ia.InteragencyDossierReceived)
    assert received.applicant == ia.DisclosedApplicant(id_number=ID_NUMBER)
    assert received.form_data is None
    assert received.producer == "interagency.bca"
    assert [e.event_id for e in bca] == [e.event_id for e in default]
    leaked = [p for e in bca[1:] for p in PERSONAL if p in encode(e).decode()]
    assert leaked == []  # reasons are not among the fields bca receives


def test_form_fields_and_reasons_are_disclosed_only_when_configured(tmp_path: Path) -> None:
    ministry = Ministry(
        code="bca",
        name="Bộ Công an",
        procedures=(CRIMINAL_RECORD,),
        fields=("applicant.full_name", "form.ngay_sinh", "reason"),
    )
    harness = Harness(tmp_path, (ministry,))

    harness.deliver(*a_full_story(Dossier(CRIMINAL_RECORD)))

    by_type = {type(e).__name__: e for e in harness.published("bca")}
    received = by_type["InteragencyDossierReceived"]
    assert isinstance(received, ia.InteragencyDossierReceived)
    assert received.applicant == ia.DisclosedApplicant(full_name=NAME)
    assert received.form_data == {"ngay_sinh": BIRTH_DATE}
    paused, refused = by_type["InteragencyDossierPaused"], by_type["InteragencyDossierRefused"]
    assert isinstance(paused, ia.InteragencyDossierPaused)
    assert isinstance(refused, ia.InteragencyDossierRefused)
    assert (paused.reason, refused.reason) == (REASON, REASON)
    assert all(
        getattr(e, "reason", None) is None and getattr(e, "applicant", None) is None
        for e in harness.published()
    )


def test_each_ministry_gets_only_the_dossiers_it_receives(harness: Harness) -> None:
    land, record = Dossier(LAND), Dossier(CRIMINAL_RECORD)

    harness.deliver(land.received(), record.received())

    assert {e.dossier_id for e in harness.published()} == {land.id, record.id}
    assert [e.dossier_id for e in harness.published("btnmt")] == [land.id]
    assert [e.dossier_id for e in harness.published("bca")] == [record.id]
    btnmt = harness.published("btnmt")[0]
    assert isinstance(btnmt, ia.InteragencyDossierReceived)
    assert btnmt.applicant is None  # btnmt receives no personal data at all


def test_a_ministry_may_receive_the_dossiers_passing_through_an_agency(tmp_path: Path) -> None:
    tax = Ministry(code="btc", name="Bộ Tài chính", agencies=("000.00.35.H23",))
    harness = Harness(tmp_path, (tax,))
    land, record = Dossier(LAND), Dossier(CRIMINAL_RECORD)

    harness.deliver(land.received(), record.received())

    assert [e.dossier_id for e in harness.published("btc")] == [land.id]


def test_a_single_agency_dossier_no_ministry_receives_is_not_forwarded(harness: Harness) -> None:
    d = Dossier(MARITAL)

    harness.deliver(d.received(), d.step_started(0, "001.20.51.H23"), d.withdrawn())

    assert harness.published() == []


def test_events_before_receipt_and_internal_ones_are_not_forwarded(harness: Harness) -> None:
    d = Dossier(CRIMINAL_RECORD)
    claimed = cw.StepClaimed(
        **d.envelope(), step_index=0, agency_code=JUSTICE, officer=OFFICER, assigned_by=OFFICER
    )

    harness.deliver(d.withdrawn(), d.received(), claimed)

    assert [type(e).__name__ for e in harness.published()] == ["InteragencyDossierReceived"]


def test_event_ids_derive_from_the_source_and_a_repeat_is_forwarded_once(
    harness: Harness,
) -> None:
    d = Dossier(CRIMINAL_RECORD)
    received = d.received()

    harness.deliver(received, received)  # e.g. republished with new positions

    published = harness.published()
    assert [e.event_id for e in published] == [ia.interagency_event_id(received.event_id)]
    assert published[0].correlation_id == str(received.event_id)
    assert published[0].event_id == uuid.uuid5(
        uuid.NAMESPACE_URL, f"motcua:interagency:{received.event_id}"
    )


def test_status_and_appointment_follow_the_dossier(harness: Harness) -> None:
    harness.deliver(*a_full_story(Dossier(CRIMINAL_RECORD)))

    published = harness.published()

    assert [(type(e).__name__.removeprefix("Interagency"), e.status) for e in published] == [
        ("DossierReceived", "in_progress"),
        ("StepStarted", "in_progress"),
        ("StepCompleted", "awaiting_handover"),
        ("DossierHandedOver", "awaiting_handover"),
        ("StepStarted", "in_progress"),
        ("DossierPaused", "paused"),
        ("DossierResumed", "in_progress"),
        ("DossierRefused", "rejected"),
    ]
    assert [e.appointment_date.isoformat() for e in published][-3:] == [
        "2026-03-16",
        "2026-03-18",
        "2026-03-18",
    ]
    assert {e.code for e in published} == {f"{JUSTICE}-260302-0001"}
    received = published[0]
    assert isinstance(received, ia.InteragencyDossierReceived)
    assert received.agencies == (JUSTICE, POLICE)


def test_a_curated_message_decodes_and_unknown_types_are_ignored(harness: Harness) -> None:
    harness.deliver(Dossier(CRIMINAL_RECORD).received())
    event = harness.published()[0]

    assert ia.decode_interagency(encode(event)) == event
    future = {**json.loads(encode(event)), "type": "InteragencyDossierArchived"}
    assert ia.decode_interagency(json.dumps(future).encode()) is None


# -- the configuration ----------------------------------------------------------------


def _config(**ministry: Any) -> str:
    entry = {"code": "bca", "name": "Bộ Công an", "procedures": [CRIMINAL_RECORD], **ministry}
    return json.dumps({"ministries": [entry]})


def test_the_shipped_ministries_file_is_valid() -> None:
    ministries = load_ministries(None, load_catalogue())

    assert {m.code for m in ministries} == {"bca", "btnmt"}
    assert next(m for m in ministries if m.code == "btnmt").fields == ()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_config(fields=["applicant.address"]), r"'bca': unknown field 'applicant.address'"),
        (_config(procedures=["9.999999"]), r"'bca': unknown procedure '9.999999'"),
        (_config(agencies=["000.00.99.H23"]), r"'bca': unknown agency '000.00.99.H23'"),
        (
            _config(fields=["form.dien_tich_thua_dat_m2"]),
            r"'form.dien_tich_thua_dat_m2' is not a form field of any procedure it receives",
        ),
        (_config(procedures=[]), r"'bca': receives nothing"),
        (_config(code="Bộ CA"), r"ministries.0.code: String should match pattern"),
        (_config(topic="x"), r"ministries.0.topic: Extra inputs are not permitted"),
        (
            json.dumps({"ministries": [json.loads(_config())["ministries"][0]] * 2}),
            r"ministry code 'bca' is used twice",
        ),
        ("{not json", r"not valid JSON"),
    ],
)
def test_an_invalid_ministries_file_is_refused_with_a_clear_reason(
    config: str, message: str
) -> None:
    with pytest.raises(MinistriesError, match=message):
        parse_ministries(config, load_catalogue(), source="ministries.json")


def test_the_unknown_field_error_lists_what_is_allowed() -> None:
    with pytest.raises(MinistriesError) as error:
        parse_ministries(_config(fields=["applicant.address"]), load_catalogue())

    assert all(name in str(error.value) for name in ALLOWED_FIELDS)
    assert "form.<field>" in str(error.value)


def test_a_missing_ministries_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MinistriesError, match=r"missing\.json: cannot read"):
        load_ministries(tmp_path / "missing.json", load_catalogue())


# -- the service ----------------------------------------------------------------------


def test_the_feeds_api_lists_each_topic_with_its_ministry_and_fields(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from services.interagency.main import create_app

    settings = Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1")
    client = TestClient(create_app(settings))  # no lifespan: nothing connects to Kafka

    feeds = client.get("/v1/feeds").json()

    assert [(f["topic"], f["producer"], f["fields"]) for f in feeds] == [
        ("interagency-events", "interagency", []),
        ("interagency-events.bca", "interagency.bca", ["applicant.id_number"]),
        ("interagency-events.btnmt", "interagency.btnmt", []),
    ]
    assert all(f["published_position"] == 0 and f["lag"] == 0 for f in feeds)


def test_the_service_does_not_start_with_an_invalid_ministries_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.interagency.main import create_app

    config = tmp_path / "ministries.json"
    config.write_text(_config(fields=["applicant.address"]), encoding="utf-8")
    monkeypatch.setenv("MOTCUA_INTERAGENCY_MINISTRIES_FILE", str(config))

    with pytest.raises(MinistriesError, match=r"ministries\.json: ministry 'bca': unknown field"):
        create_app(Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1"))
