"""Intake's lookup is read from its read model, and says what a replay would say.

``GET /v1/dossiers/{ref}`` answers from the dossier's ``intake_dossier_views`` row,
written in the transaction of each save, and from what workflow, payment and notify
reported (``intake_progress`` and the status and appointment on the lookup row), read
in one snapshot; it loads no aggregate and reads no events. After every command of
lifecycles that together record every kind of event a dossier has, and after each
report of another service reaching intake's consumer, the answers over HTTP (a party by
id and by code, the public by code and ID number) are compared with the one built as
the lookup was built before: the aggregate replayed, its events read again for the
timeline. An event type whose save forgot the row would show as a difference. A store
written before the read model existed (events, no rows) answers the same, and gets its
row.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts import workflow as wf
from contracts.envelope import Envelope
from contracts.notify import NoticeDelivered
from motcua.core.calendar import VIETNAM_TZ
from motcua.runtime.settings import DEV_JWT_SECRET
from motcua.web.auth import Caller, issue_token
from services.intake.application import IntakeApplication
from services.intake.domain import Dossier
from services.intake.dossier_view import timeline_entry
from services.intake.progress import Progress
from services.intake.schemas import DossierView, FeedbackView, TimelineEntry
from tests.support.apps import make_app
from tests.support.dossiers import (
    BIRTH_AGENCY,
    CITIZEN_ID,
    citizen,
    make_intake,
    officer,
    submit,
    submit_birth,
)
from tests.support.ledger import deliver

ADMIN = {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, sub='a', role='admin')}"}
LOOKUP = {"X-Id-Number": CITIZEN_ID}
OTHER_AGENCY = "000.00.31.H23"
EVERY_EVENT = {
    name
    for name, kind in vars(Dossier).items()
    if isinstance(kind, type) and issubclass(kind, Dossier.Event)
} - {"Event", "Created"}
REPORTED = {
    "DossierHandedOver",
    "SupplementRequested",
    "SupplementProvided",
    "ApologyIssued",
    "DossierApproved",
    "ResultIssued",
    "ResultReturned",
    "NoticeDelivered",
}


@contextlib.contextmanager
def no_replay(intake: IntakeApplication) -> Iterator[None]:
    """Fail whatever loads a dossier or reads its events while the block runs."""

    def replayed(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the lookup replayed the dossier")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(intake.repository, "get", replayed)
        patch.setattr(intake.events, "get", replayed)
        yield


def replayed(intake: IntakeApplication, dossier_id: str, privileged: bool) -> dict[str, Any]:
    """The lookup as it was built before its read model: the aggregate replayed, its
    events read again for the timeline, with the status, appointment and progress that
    the other services reported (taken as they are now)."""
    dossier: Dossier = intake.repository.get(uuid.UUID(dossier_id))
    own = [timeline_entry(e) for e in intake.events.get(dossier.id, lte=dossier.version)]
    with intake.store.snapshot() as tx:
        tx.execute(
            "SELECT status, appointment_date, appointment_at FROM {intake_dossiers} WHERE id = ?",
            (dossier_id,),
        )
        row = tx.fetchone()
        later = Progress.timeline(tx, dossier_id)
    assert row is not None
    status, appointment = dossier.status, dossier.appointment_date
    moment = dossier.appointment_at
    if appointment is not None and row["appointment_date"] is not None:
        status, appointment = row["status"], date.fromisoformat(row["appointment_date"])
        moment = row["appointment_at"] and datetime.fromisoformat(row["appointment_at"])
    view = DossierView(
        id=dossier.id,
        code=dossier.code,
        status=status,
        procedure_id=dossier.procedure_id,
        procedure_name=dossier.procedure_name,
        agency_code=dossier.agency_code,
        channel=dossier.channel,
        applicant_name=dossier.applicant["full_name"],
        received_at=dossier.received_at,
        appointment_date=appointment,
        appointment_at=moment and moment.astimezone(VIETNAM_TZ),
        reason=dossier.reason,
        rating=dossier.rating,
        feedback=[
            FeedbackView(feedback_id=uuid.UUID(fid), **item)
            for fid, item in dossier.feedback.items()
        ],
        timeline=[TimelineEntry(**e) for e in sorted(own + later, key=lambda e: e["at"])],
        form_data=dossier.form_data if privileged else None,
        documents=dossier.documents if privileged else None,
    )
    return view.model_dump(mode="json")


class Lifecycle:
    """The applicant, officers and the other services' reports acting on intake, each
    step checked against a replay."""

    def __init__(self, tmp_path: Path) -> None:
        self.client = TestClient(make_app("intake", tmp_path))
        app: Any = self.client.app
        self.intake: IntakeApplication = app.state.intake
        self.recorded: set[str] = set()

    def dossier(self, dossier_id: str) -> Dossier:
        dossier: Dossier = self.intake.repository.get(uuid.UUID(dossier_id))
        return dossier

    def submit(self, channel: str = "online", **extra: Any) -> str:
        headers = citizen() if channel == "online" else officer()
        dossier_id = submit_birth(self.client, headers=headers, channel=channel, **extra)
        self.check(dossier_id)
        return dossier_id

    def act(self, dossier_id: str, action: str, headers: dict[str, str], **body: Any) -> Any:
        response = self.client.post(
            f"/v1/dossiers/{dossier_id}/{action}", headers=headers, json=body
        )
        assert response.status_code in (200, 201, 204), (action, response.text)
        self.check(dossier_id)
        return response.json() if response.content else None

    def report(
        self, dossier_id: str, type_: type[Envelope], producer: str = "workflow", **fields: Any
    ) -> None:
        """Another service's event, delivered to intake's consumer as the broker would."""
        event = type_(
            event_id=uuid.uuid4(),
            dossier_id=uuid.UUID(dossier_id),
            occurred_at=datetime.now(UTC),
            producer=producer,
            correlation_id="test",
            **fields,
        )
        deliver(self.intake, self.intake.store, self.intake.progress.handlers(), event, name="i")
        self.check(dossier_id)

    def check(self, dossier_id: str) -> None:
        """Every way of looking the dossier up answers as the replay, without one."""
        party = replayed(self.intake, dossier_id, privileged=True)
        public = replayed(self.intake, dossier_id, privileged=False)
        code = party["code"]
        asked = [(dossier_id, ADMIN, party), (dossier_id, officer(), party)]
        if party["channel"] == "online":
            asked.append((dossier_id, citizen(), party))
        if code is not None:
            asked += [(code, officer(), party), (code, LOOKUP, public)]
        with no_replay(self.intake):
            for ref, headers, expected in asked:
                answer = self.client.get(f"/v1/dossiers/{ref}", headers=headers)
                assert answer.status_code == 200, (ref, answer.text)
                assert answer.json() == expected, ref
        kept = self.intake.store.read_one(
            "SELECT version FROM {intake_dossier_views} WHERE dossier_id = ?", (dossier_id,)
        )
        assert kept == {"version": self.dossier(dossier_id).version}
        self.recorded.update(entry["event"] for entry in party["timeline"])


def test_every_kind_of_change_leaves_the_lookup_as_a_replay_gives_it(tmp_path: Path) -> None:
    life = Lifecycle(tmp_path)
    online = life.submit()
    life.act(
        online,
        "request-completion",
        officer(),
        reason="Thiếu bản sao",
        missing_documents=["ban_sao"],
    )
    documents = [
        {k: d[k] for k in ("document_id", "sha256", "filename")}
        for d in life.dossier(online).documents
    ]
    form = life.dossier(online).form_data
    life.act(online, "resubmit", citizen(), form_data=form, documents=documents)
    life.act(online, "accept", officer())
    appointment = life.dossier(online).appointment_date
    assert appointment is not None
    later = appointment + timedelta(days=7)
    life.report(
        online,
        wf.DossierHandedOver,
        from_agency=BIRTH_AGENCY,
        to_agency=OTHER_AGENCY,
        step_index=1,
        officer="officer-9",
    )
    life.report(
        online,
        wf.SupplementRequested,
        agency_code=OTHER_AGENCY,
        officer="officer-9",
        reason="Thiếu bản sao",
        documents=("ban_sao",),
        requested_on=appointment,
    )
    life.report(
        online,
        wf.SupplementProvided,
        provided_on=appointment,
        paused_working_days=2,
        appointment_date=later,
        appointment_at=datetime.combine(later, time(16), VIETNAM_TZ),
    )
    resumed = replayed(life.intake, online, privileged=False)
    assert resumed["appointment_at"] == f"{later.isoformat()}T16:00:00+07:00"
    life.report(
        online,
        wf.ApologyIssued,
        agency_code=OTHER_AGENCY,
        officer="officer-9",
        reason="Chậm",
        previous_appointment_date=later,
        appointment_date=later + timedelta(days=3),
    )
    moved = replayed(life.intake, online, privileged=False)
    assert (moved["status"], moved["appointment_date"]) == (
        "in_process",
        (later + timedelta(days=3)).isoformat(),
    )  # what workflow reported, once the dossier is accepted
    life.report(online, wf.DossierApproved, agency_code=OTHER_AGENCY, officer="officer-9")
    life.report(
        online,
        wf.ResultIssued,
        agency_code=OTHER_AGENCY,
        officer="officer-9",
        kind="pickup",
        issued_at=datetime.now(UTC),
        appointment_date=later,
        timeliness="late",
    )
    life.report(
        online,
        NoticeDelivered,
        producer="notify",
        notice_id=uuid.uuid4(),
        source_event_id=uuid.uuid4(),
        kind="result_ready",
        channel="sms",
        recipient="0912000001",
        attempts=1,
    )
    feedback = life.act(online, "feedback", citizen(), kind="complaint", text="Trả kết quả chậm")
    life.act(
        online, f"feedback/{feedback['feedback_id']}/answer", officer(), answer="Xin lỗi Ông/Bà"
    )
    life.act(online, "rating", citizen(), rating=4, comment="Tận tình")
    # Intake's own saves after acceptance never put the receipt's appointment back.
    kept = replayed(life.intake, online, privileged=False)
    assert (kept["appointment_date"], kept["appointment_at"]) == (
        (later + timedelta(days=3)).isoformat(),
        None,  # an apology promises a date, not an hour
    )
    life.report(online, wf.ResultReturned, officer="officer-9", method="pickup", returned_on=later)
    assert replayed(life.intake, online, False)["status"] == "returned"

    refused = life.submit("counter")
    life.act(refused, "refuse", officer(), reason="Hồ sơ không hợp lệ")
    withdrawn = life.submit()
    by_post = life.submit("post", postal_tracking_number="RR123456785VN")
    life.act(by_post, "accept", officer())
    life.act(withdrawn, "withdraw", citizen(), reason="Không cần nữa")

    assert life.recorded == EVERY_EVENT | REPORTED


def _legacy(intake: IntakeApplication) -> None:
    """What a store written before the read model holds: events and lookup rows, no views."""
    intake.store.write(lambda tx: tx.execute("DELETE FROM {intake_dossier_views}"))


def test_a_dossier_saved_before_the_read_model_is_answered_and_gets_its_row(
    tmp_path: Path,
) -> None:
    life = Lifecycle(tmp_path)
    dossier_id = life.submit()
    code = life.act(dossier_id, "accept", officer())["code"]
    _legacy(life.intake)

    first = life.client.get(f"/v1/dossiers/{code}", headers=LOOKUP)  # built from the aggregate

    assert first.status_code == 200, first.text
    assert first.json() == replayed(life.intake, dossier_id, False)
    rows = life.intake.store.read("SELECT dossier_id, version FROM {intake_dossier_views}")
    assert rows == [{"dossier_id": dossier_id, "version": life.dossier(dossier_id).version}]
    life.check(dossier_id)  # and read from the row it kept


def test_a_legacy_dossier_changed_before_anyone_looked_has_its_whole_timeline(
    tmp_path: Path,
) -> None:
    life = Lifecycle(tmp_path)
    dossier_id = life.submit()
    _legacy(life.intake)

    life.act(dossier_id, "accept", officer())  # the save finds no row: the events have it

    timeline = replayed(life.intake, dossier_id, True)["timeline"]
    assert [e["event"] for e in timeline] == ["Submitted", "Received"]


NOT_FOUND = "no dossier matches that code and ID number"


@pytest.mark.parametrize(
    ("headers", "by_code"),
    [
        ({"X-Id-Number": "001190009999"}, True),
        ({"X-Id-Number": CITIZEN_ID}, False),
        ({}, True),
        (citizen("citizen-2", id_number="001190000002"), True),
        (citizen("citizen-2", id_number="001190000002"), False),
        (officer(OTHER_AGENCY), True),
        (officer(OTHER_AGENCY), False),
    ],
    ids=[
        "a wrong ID number",
        "the ID number with the id instead of the code",
        "no ID number",
        "another citizen by code",
        "another citizen by id",
        "an officer of another agency by code",
        "an officer of another agency by id",
    ],
)
def test_strangers_get_the_404_of_an_unknown_code(
    tmp_path: Path, headers: dict[str, str], by_code: bool
) -> None:
    life = Lifecycle(tmp_path)
    dossier_id = life.submit()
    code = life.act(dossier_id, "accept", officer())["code"]
    unknown = life.client.get(f"/v1/dossiers/{code[:-4]}9999", headers=LOOKUP)

    with no_replay(life.intake):
        answer = life.client.get(f"/v1/dossiers/{code if by_code else dossier_id}", headers=headers)

    assert (unknown.status_code, answer.status_code) == (404, 404)
    assert answer.json()["error"]["message"] == unknown.json()["error"]["message"] == NOT_FOUND


def test_before_acceptance_there_is_no_public_lookup_and_parties_see_the_form(
    tmp_path: Path,
) -> None:
    life = Lifecycle(tmp_path)
    dossier_id = life.submit()

    with no_replay(life.intake):
        mine = life.client.get(f"/v1/dossiers/{dossier_id}", headers=citizen())
        public = life.client.get(f"/v1/dossiers/{dossier_id}", headers=LOOKUP)

    assert mine.status_code == 200
    assert mine.json()["form_data"]["so_dinh_danh"] == CITIZEN_ID
    assert public.status_code == 404


def test_on_both_databases_a_legacy_dossier_saved_again_reads_as_its_replay(
    database_url: str | None, tmp_path: Path
) -> None:
    intake = make_intake(database_url, tmp_path / "intake")
    dossier_id = submit(intake)
    _legacy(intake)
    agency = Caller(sub="o", role="officer", agency=BIRTH_AGENCY)
    code = intake.accept(agency, dossier_id, correlation_id="t")

    expected = replayed(intake, str(dossier_id), False)
    with no_replay(intake):
        answer = intake.lookup(None, code, CITIZEN_ID)

    assert DossierView.model_validate(answer).model_dump(mode="json") == expected
    assert [e["event"] for e in expected["timeline"]] == ["Submitted", "Received"]
    intake.close()
