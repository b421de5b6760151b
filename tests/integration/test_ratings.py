"""Ratings and feedback end to end: intake, workflow and stats as real processes.

A counter applicant without an account rates with the lookup's credentials (code and ID
number) once the result is out; the rating reaches the published figures (S-3). A
complaint is answered by the dossier's agency only (F-1).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.demo.client import APPLICANTS, DemoClient
from devtools.demo.workflow import birth_to_electronic_result, wait_for_process
from motcua.core.waiting import wait_for
from motcua.runtime.settings import DEV_JWT_SECRET
from tests.support.processes import Broker, ServiceProcess
from tests.support.topics import read_topic

pytestmark = pytest.mark.integration

wait_45 = functools.partial(wait_for, timeout=45.0)  # the services work asynchronously

BIRTH, COMMUNE, ELSEWHERE = "1.001193", "001.20.51.H23", "000.00.31.H23"
MONDAY = "2026-03-02T09:00:00+07:00"


def accepted(client: DemoClient, applicant: int, channel: str) -> tuple[str, str]:
    """Submit and accept a birth registration; (dossier id, code) once workflow has it."""
    dossier_id, agency = client.submit(APPLICANTS[applicant], BIRTH, channel)
    code: str = client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))[
        "code"
    ]
    wait_for_process(client, dossier_id)
    return dossier_id, code


def test_applicant_rates_once_after_the_result_and_the_agency_answers_a_complaint(
    start_service: Callable[..., ServiceProcess], broker: Broker, topic: str, clock_file: Path
) -> None:
    clock_file.write_text(MONDAY)
    intake, workflow = start_service("intake"), start_service("workflow")
    stats = start_service("stats")
    client = DemoClient(intake.url, workflow.url, DEV_JWT_SECRET)
    lookup = {"X-Id-Number": APPLICANTS[1].id_number}
    dossier_id, code = accepted(client, 1, "counter")  # no portal account
    _, pending_code = accepted(client, 0, "online")
    birth_to_electronic_result(client, dossier_id)
    wait_45(
        lambda: client.call("GET", f"/v1/dossiers/{code}", lookup)["status"] == "returned",
        "intake to learn of the result",
    )

    too_early = client.http.post(
        f"/v1/dossiers/{pending_code}/rating",
        headers={"X-Id-Number": APPLICANTS[0].id_number},
        json={"rating": 5},
    )
    rated = client.http.post(
        f"/v1/dossiers/{code}/rating", headers=lookup, json={"rating": 4, "comment": "Nhanh gọn"}
    )
    again = client.http.post(f"/v1/dossiers/{code}/rating", headers=lookup, json={"rating": 1})
    complaint = client.call(
        "POST",
        f"/v1/dossiers/{code}/feedback",
        lookup,
        json={"kind": "complaint", "text": "Bản điện tử của giấy khai sinh bị sai tên đệm"},
    )
    answer_url = f"/v1/dossiers/{dossier_id}/feedback/{complaint['feedback_id']}/answer"
    answer = {"answer": "Đã cấp lại bản điện tử đúng tên; xin lỗi Ông/Bà"}
    wrong_agency = client.http.post(answer_url, headers=client.officer(ELSEWHERE), json=answer)
    queue = client.call("GET", "/v1/feedback", client.officer(COMMUNE))
    answered = client.http.post(answer_url, headers=client.officer(COMMUNE), json=answer)

    assert too_early.status_code == 409
    assert "no result yet" in too_early.json()["error"]["message"]
    assert rated.status_code == 204, rated.text
    assert again.status_code == 409
    assert wrong_agency.status_code == 403
    assert [r["feedback_id"] for r in queue] == [complaint["feedback_id"]]
    assert answered.status_code == 204, answered.text
    assert client.call("GET", "/v1/feedback", client.officer(COMMUNE)) == []

    figures = wait_45(lambda: _rated_figures(stats.url), "stats to count the rating")
    service = next(p for p in figures["procedures"] if p["procedure_id"] == BIRTH)
    assert (service["ratings"], service["average_rating"]) == (1, 4.0)
    assert (figures["totals"]["ratings"], figures["totals"]["average_rating"]) == (1, 4.0)

    records = read_topic(
        broker.bootstrap,
        topic,
        lambda rs: any(r.event.get("type") == "FeedbackAnswered" for r in rs),
    )
    mine = [r.event for r in records if r.key == dossier_id and r.event["producer"] == "intake"]
    rating = next(e for e in mine if e["type"] == "DossierRated")
    assert (rating["rating"], rating["comment"], rating["rated_by"]) == (4, "Nhanh gọn", None)
    answer_event = next(e for e in mine if e["type"] == "FeedbackAnswered")
    assert answer_event["agency_code"] == COMMUNE
    assert [e["type"] for e in mine].count("DossierRated") == 1

    view = client.call("GET", f"/v1/dossiers/{code}", lookup)
    assert view["rating"] == 4
    assert view["feedback"][0]["answer"] == answer["answer"]


def _rated_figures(stats_url: str) -> dict[str, Any] | None:
    figures: dict[str, Any] = httpx.get(f"{stats_url}/v1/stats/ytd", timeout=10).json()
    return figures if figures["totals"]["ratings"] else None
