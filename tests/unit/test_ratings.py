"""Ratings and feedback (S-3, F-1): the dossier's rules, intake's API, stats and notify."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from fastapi.testclient import TestClient
from unidecode import unidecode

from contracts import intake as ci
from contracts import workflow as wf
from contracts.envelope import Envelope
from contracts.events import decode, encode
from motcua.core.errors import Conflict, Invalid, NotFound
from motcua.runtime.mapping import BatchAggregates
from motcua.runtime.settings import Settings
from services.intake.application import IntakeApplication
from services.intake.domain import (
    AlreadyAnswered,
    AlreadyRated,
    Dossier,
    InvalidFeedback,
    InvalidRating,
    NoResultYet,
)
from services.intake.main import create_app
from services.intake.to_contract import IntakePublisher
from services.notify.planning import KIND_OF
from services.notify.render import render
from services.stats.projection import DossierStats, Projection, apply
from tests.support.dossiers import BIRTH_AGENCY, CITIZEN_ID, citizen, officer, submit_birth
from tests.support.ledger import deliver

FEEDBACK_ID = "6f1c2a52-0d1e-4f51-9a3c-2b7d5e8f9a01"
OTHER_AGENCY = "000.00.31.H23"


# -- the dossier's rules ------------------------------------------------------------------


def _dossier() -> Dossier:
    return Dossier(
        procedure_id="1.001193",
        procedure_name="Đăng ký khai sinh",
        level=4,
        agency_code=BIRTH_AGENCY,
        channel="counter",
        applicant={"account": None, "full_name": "NGUYỄN VĂN AN", "id_number": CITIZEN_ID},
        form_data={},
        documents=[],
        submitted_by="officer-1",
        correlation_id="c1",
    )


def _rate(dossier: Dossier, rating: int = 5, *, result_issued: bool = True) -> None:
    dossier.rate(
        rating=rating,
        comment="  Cán bộ hướng dẫn tận tình ",
        rated_by=None,
        result_issued=result_issued,
        correlation_id="c2",
    )


def _send(dossier: Dossier, feedback_id: str = FEEDBACK_ID, kind: str = "complaint") -> None:
    dossier.send_feedback(
        feedback_id=feedback_id,
        kind=kind,
        text="Quá hạn mà chưa có kết quả",
        sent_by=None,
        correlation_id="c3",
    )


def _answer(dossier: Dossier, feedback_id: str = FEEDBACK_ID) -> None:
    dossier.answer_feedback(
        feedback_id=feedback_id,
        answer="Hồ sơ đã được ưu tiên giải quyết",
        agency_code=BIRTH_AGENCY,
        answered_by="officer-2",
        correlation_id="c4",
    )


def test_a_rating_after_the_result_is_recorded_with_its_comment() -> None:
    dossier = _dossier()

    _rate(dossier, 4)

    rated = dossier.collect_events()[-1]
    assert type(rated).__name__ == "Rated"
    assert (dossier.rating, dossier.rating_comment) == (4, "Cán bộ hướng dẫn tận tình")
    assert not hasattr(rated, "result_issued")  # how intake knew is not part of the fact


def test_a_rating_before_the_result_is_a_conflict() -> None:
    dossier = _dossier()

    with pytest.raises(NoResultYet, match="chưa có kết quả") as refused:
        _rate(dossier, result_issued=False)

    assert isinstance(refused.value, Conflict)
    assert "no result yet" in refused.value.message
    assert dossier.rating is None


def test_a_second_rating_is_a_conflict_and_the_first_stands() -> None:
    dossier = _dossier()
    _rate(dossier, 5)

    with pytest.raises(AlreadyRated, match="only once"):
        _rate(dossier, 1)

    assert dossier.rating == 5


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_a_rating_outside_one_to_five_is_invalid(rating: int) -> None:
    dossier = _dossier()

    with pytest.raises(InvalidRating) as refused:
        _rate(dossier, rating)

    assert isinstance(refused.value, Invalid)
    assert len(dossier.collect_events()) == 1  # only Submitted


def test_feedback_is_answered_once() -> None:
    dossier = _dossier()
    _send(dossier)
    _answer(dossier)

    with pytest.raises(AlreadyAnswered):
        _answer(dossier)

    assert dossier.feedback[FEEDBACK_ID]["answer"] == "Hồ sơ đã được ưu tiên giải quyết"
    kinds = [type(e).__name__ for e in dossier.collect_events()]
    assert kinds == ["Submitted", "FeedbackSent", "FeedbackAnswered"]


def test_an_answer_to_unknown_feedback_is_not_found() -> None:
    dossier = _dossier()

    with pytest.raises(NotFound):
        _answer(dossier)


@pytest.mark.parametrize(("kind", "text"), [("praise", "Tốt lắm"), ("feedback", "   ")])
def test_feedback_of_an_unknown_kind_or_without_text_is_invalid(kind: str, text: str) -> None:
    dossier = _dossier()

    with pytest.raises(InvalidFeedback):
        dossier.send_feedback(
            feedback_id=FEEDBACK_ID, kind=kind, text=text, sent_by=None, correlation_id="c"
        )


def test_feedback_may_be_sent_before_acceptance() -> None:
    dossier = _dossier()  # submitted, no code yet

    _send(dossier, kind="feedback")

    assert dossier.status == "submitted"
    assert dossier.feedback[FEEDBACK_ID]["answer"] is None


def test_the_publisher_maps_rating_and_feedback_to_contract_events() -> None:
    dossier = _dossier()
    _rate(dossier, 3)
    _send(dossier)
    _answer(dossier)
    events = dossier.collect_events()[1:]
    # Ratings and feedback carry no facts of the dossier: nothing is loaded from a store.
    publish = IntakePublisher(app=None)  # type: ignore[arg-type]
    no_store = BatchAggregates(repository=None, events=events)  # type: ignore[arg-type]

    published = [publish(e, no_store) for e in events]

    rated, sent, answered = (decode(encode(e)) for e in published if e is not None)
    assert isinstance(rated, ci.DossierRated)
    assert (rated.rating, rated.comment, rated.rated_by) == (3, "Cán bộ hướng dẫn tận tình", None)
    assert isinstance(sent, ci.FeedbackSent)
    assert (str(sent.feedback_id), sent.kind) == (FEEDBACK_ID, "complaint")
    assert isinstance(answered, ci.FeedbackAnswered)
    assert (answered.agency_code, answered.answered_by) == (BIRTH_AGENCY, "officer-2")


# -- intake's HTTP API, in process -------------------------------------------------------


@pytest.fixture
def intake_client(tmp_path: Path) -> TestClient:
    app = create_app(Settings(var_dir=tmp_path))
    return TestClient(app)  # no lifespan: no broker needed


def _intake(client: TestClient) -> IntakeApplication:
    app: Any = client.app
    intake: IntakeApplication = app.state.intake
    return intake


def _counter_dossier(client: TestClient) -> tuple[str, str]:
    """A dossier entered at the counter for an applicant without an account: (id, code)."""
    dossier_id = submit_birth(client, headers=officer(), channel="counter")
    accepted = client.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer())
    assert accepted.status_code == 200, accepted.text
    code: str = accepted.json()["code"]
    return dossier_id, code


def _result_issued(client: TestClient, dossier_id: str) -> None:
    """Deliver workflow's ResultIssued to intake's consumer handler, as the broker would."""
    event = wf.ResultIssued(
        event_id=uuid.uuid4(),
        dossier_id=uuid.UUID(dossier_id),
        occurred_at=datetime.now(UTC),
        producer="workflow",
        correlation_id="test",
        agency_code=BIRTH_AGENCY,
        officer="officer-9",
        kind="pickup",
        issued_at=datetime.now(UTC),
        appointment_date=date(2026, 3, 3),
        timeliness="on_time",
    )
    intake = _intake(client)
    deliver(intake, intake.store, intake.progress.handlers(), event, name="intake")


def _record(event: Envelope) -> ConsumerRecord[bytes, bytes]:
    value = encode(event)
    headers = [("producer", event.producer.encode()), ("position", b"1")]
    return ConsumerRecord("dossier-events", 0, 0, 0, 0, None, value, None, 0, len(value), headers)


LOOKUP = {"X-Id-Number": CITIZEN_ID}


def test_counter_applicant_rates_with_code_and_id_number_after_the_result(
    intake_client: TestClient,
) -> None:
    client = intake_client
    dossier_id, code = _counter_dossier(client)
    early = client.post(f"/v1/dossiers/{code}/rating", headers=LOOKUP, json={"rating": 5})
    _result_issued(client, dossier_id)

    rated = client.post(
        f"/v1/dossiers/{code}/rating", headers=LOOKUP, json={"rating": 5, "comment": "Nhanh"}
    )
    again = client.post(f"/v1/dossiers/{code}/rating", headers=LOOKUP, json={"rating": 1})

    assert early.status_code == 409
    assert "chưa có kết quả" in early.json()["error"]["message"]
    assert rated.status_code == 204, rated.text
    assert again.status_code == 409
    assert "only once" in again.json()["error"]["message"]
    view = client.get(f"/v1/dossiers/{code}", headers=LOOKUP).json()
    assert view["rating"] == 5
    entry = view["timeline"][-1]
    assert (entry["event"], entry["details"]["rating"], entry["by"]) == ("Rated", 5, None)


def test_only_the_applicant_rates_and_only_from_one_to_five(intake_client: TestClient) -> None:
    client = intake_client
    dossier_id, code = _counter_dossier(client)
    _result_issued(client, dossier_id)

    as_officer = client.post(f"/v1/dossiers/{code}/rating", headers=officer(), json={"rating": 5})
    wrong_id = client.post(
        f"/v1/dossiers/{code}/rating", headers={"X-Id-Number": "999"}, json={"rating": 5}
    )
    too_high = client.post(f"/v1/dossiers/{code}/rating", headers=LOOKUP, json={"rating": 6})
    too_low = client.post(f"/v1/dossiers/{code}/rating", headers=LOOKUP, json={"rating": 0})

    assert as_officer.status_code == 403
    assert "applicant" in as_officer.json()["error"]["message"]
    assert wrong_id.status_code == 404  # like the lookup: a code is never confirmed
    assert (too_high.status_code, too_low.status_code) == (422, 422)


def test_account_holder_rates_by_dossier_id(intake_client: TestClient) -> None:
    client = intake_client
    dossier_id = submit_birth(client)  # online, by citizen-1
    client.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer())
    _result_issued(client, dossier_id)

    stranger = client.post(
        f"/v1/dossiers/{dossier_id}/rating", headers=citizen("citizen-2"), json={"rating": 2}
    )
    rated = client.post(f"/v1/dossiers/{dossier_id}/rating", headers=citizen(), json={"rating": 4})

    assert stranger.status_code == 404
    assert rated.status_code == 204
    dossier: Dossier = _intake(client).repository.get(uuid.UUID(dossier_id))
    assert dossier.rating == 4


def test_feedback_waits_in_the_agency_queue_until_its_officer_answers(
    intake_client: TestClient,
) -> None:
    client = intake_client
    dossier_id, code = _counter_dossier(client)
    sent = client.post(
        f"/v1/dossiers/{code}/feedback",
        headers=LOOKUP,
        json={"kind": "complaint", "text": "Cán bộ hẹn nhưng không trả kết quả"},
    )
    feedback_id = sent.json()["feedback_id"]
    answer_url = f"/v1/dossiers/{dossier_id}/feedback/{feedback_id}/answer"
    queue = client.get("/v1/feedback", headers=officer()).json()
    elsewhere_queue = client.get("/v1/feedback", headers=officer(OTHER_AGENCY)).json()
    body = {"answer": "Xin lỗi Ông/Bà, kết quả đã sẵn sàng tại Bộ phận Một cửa"}

    elsewhere = client.post(answer_url, headers=officer(OTHER_AGENCY), json=body)
    as_citizen = client.post(answer_url, headers=citizen(), json=body)
    answered = client.post(answer_url, headers=officer(sub="officer-2"), json=body)
    twice = client.post(answer_url, headers=officer(), json=body)

    assert sent.status_code == 201, sent.text
    assert [(r["feedback_id"], r["code"], r["kind"]) for r in queue] == [
        (feedback_id, code, "complaint")
    ]
    assert elsewhere_queue == []
    assert (elsewhere.status_code, as_citizen.status_code) == (403, 403)
    assert answered.status_code == 204, answered.text
    assert twice.status_code == 409
    assert client.get("/v1/feedback", headers=officer()).json() == []
    done = client.get("/v1/feedback", headers=officer(), params={"answered": True}).json()
    assert (done[0]["answer"], done[0]["answered_by"]) == (body["answer"], "officer-2")
    view = client.get(f"/v1/dossiers/{code}", headers=LOOKUP).json()
    assert view["feedback"] == [
        {
            "feedback_id": feedback_id,
            "kind": "complaint",
            "text": "Cán bộ hẹn nhưng không trả kết quả",
            "answer": body["answer"],
            "agency_code": BIRTH_AGENCY,
        }
    ]
    last = view["timeline"][-1]
    assert (last["event"], last["by"]) == ("FeedbackAnswered", BIRTH_AGENCY)  # never the officer


def test_feedback_needs_a_known_kind_and_some_text(intake_client: TestClient) -> None:
    client = intake_client
    _, code = _counter_dossier(client)

    praise = client.post(
        f"/v1/dossiers/{code}/feedback", headers=LOOKUP, json={"kind": "praise", "text": "Tốt"}
    )
    empty = client.post(
        f"/v1/dossiers/{code}/feedback", headers=LOOKUP, json={"kind": "feedback", "text": ""}
    )

    assert (praise.status_code, empty.status_code) == (422, 422)


# -- stats and notify --------------------------------------------------------------------


def _stats_row() -> DossierStats:
    return DossierStats(
        dossier_id=str(uuid.uuid4()),
        year=2026,
        procedure_id="1.001193",
        procedure_name="Đăng ký khai sinh",
        level=4,
        channel="counter",
        agency_code=BIRTH_AGENCY,
        appointment_date="2026-03-03",
    )


def _rated_event(dossier_id: str, rating: int) -> dict[str, Any]:
    return {
        "type": "DossierRated",
        "event_id": str(uuid.uuid4()),
        "dossier_id": dossier_id,
        "occurred_at": "2026-03-10T02:00:00Z",
        "rating": rating,
    }


def test_stats_counts_the_first_rating_of_a_dossier() -> None:
    row = _stats_row()

    once = apply(row, _rated_event(row.dossier_id, 4))
    twice = apply(once, _rated_event(row.dossier_id, 1))

    assert once is not None
    assert twice is not None
    assert (once.rating, twice.rating) == (4, 4)


def test_the_replay_counts_ratings_like_the_live_consumer() -> None:
    received = {
        "type": "DossierReceived",
        "event_id": str(uuid.uuid4()),
        "dossier_id": "d1",
        "occurred_at": "2026-03-02T02:00:00Z",
        "received_at": "2026-03-02T02:00:00Z",
        "procedure_id": "1.001193",
        "procedure_name": "Đăng ký khai sinh",
        "level": 4,
        "channel": "online",
        "agency_code": BIRTH_AGENCY,
        "appointment_date": "2026-03-03",
    }

    projection = Projection().feed_all([received, _rated_event("d1", 5), _rated_event("d1", 2)])

    assert projection.dossiers["d1"].rating == 5


def test_notify_tells_the_applicant_the_answer() -> None:
    data: dict[str, Any] = {
        "applicant_name": "NGUYỄN VĂN AN",
        "code": f"{BIRTH_AGENCY}-260302-0001",
        "procedure_name": "Đăng ký khai sinh",
        "agency_name": "UBND xã",
        "lookup_url": None,
        "appointment_date": None,
        "appointment_time": None,
        "reason": None,
        "documents": [],
        "payment_url": None,
        "amount_vnd": None,
        "result_kind": None,
        "new_appointment_date": None,
        "answer": "Kết quả đã sẵn sàng tại Bộ phận Một cửa",
    }

    email = render("feedback_answered", "email", data)
    sms = render("feedback_answered", "sms", data)

    assert KIND_OF[ci.FeedbackAnswered] == "feedback_answered"
    assert "trả lời phản ánh, kiến nghị" in email.body
    assert data["answer"] in email.body
    # Without a lookup link the SMS carries the answer itself (without diacritics to fit).
    assert unidecode(data["answer"]) in unidecode(sms.body)
