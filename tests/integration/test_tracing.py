"""One trace from the HTTP request to the last consumer, across real service processes.

The citizen's submission and the officer's acceptance each come with a ``traceparent``
of the caller's. Their events carry it in the Kafka headers; workflow continues it in
the events it derives from them; notify and stats, consuming workflow's events, apply
them in spans of the same trace. Every process writes its spans to a file of its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.dossiers import citizen, officer, submit_birth
from tests.support.processes import Broker, ServiceProcess, free_port
from tests.support.topics import Record, read_topic

pytestmark = pytest.mark.integration

MONDAY = "2026-03-02T09:00:00+07:00"
SUBMIT_TRACE, SUBMIT_PARENT = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
ACCEPT_TRACE, ACCEPT_PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
SERVICES = ("intake", "workflow", "notify", "stats")


def traceparent(trace_id: str, parent_id: str) -> str:
    return f"00-{trace_id}-{parent_id}-01"


def trace_of(record: Record) -> str | None:
    value = record.headers.get("traceparent")
    return value.split("-")[1] if value else None


def spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def server_spans(path: Path, name: str) -> list[dict[str, Any]]:
    return [s for s in spans(path) if s["kind"] == "SERVER" and s["name"] == name]


def consumer_spans(path: Path, dossier_id: str, event_type: str) -> list[dict[str, Any]]:
    return [
        s
        for s in spans(path)
        if s["kind"] == "CONSUMER"
        and s["attributes"].get("motcua.dossier_id") == dossier_id
        and s["attributes"].get("motcua.event.type") == event_type
    ]


def eventually(found: Callable[[], list[dict[str, Any]]], timeout: float = 30.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := found():
            return result
        time.sleep(0.1)
    raise TimeoutError("no such span")


@pytest.fixture
def stack(
    start_service: Callable[..., ServiceProcess], clock_file: Path, tmp_path: Path
) -> dict[str, ServiceProcess]:
    clock_file.write_text(MONDAY)
    no_sender = {  # e-mail and SMS notices fail quietly: nothing listens there
        "MOTCUA_SMTP_PORT": str(free_port()),
        "MOTCUA_SMS_URL": "http://127.0.0.1:9/none",
    }
    return {
        name: start_service(
            name,
            MOTCUA_OTEL_SPANS_FILE=str(tmp_path / "spans" / f"{name}.jsonl"),
            **(no_sender if name == "notify" else {}),
        )
        for name in SERVICES
    }


def test_the_requests_trace_reaches_the_last_consumer_through_kafka_headers(
    stack: dict[str, ServiceProcess], broker: Broker, topic: str, tmp_path: Path
) -> None:
    spans_of = {name: tmp_path / "spans" / f"{name}.jsonl" for name in SERVICES}
    with httpx.Client(base_url=stack["intake"].url, timeout=10) as intake:
        submitted_with = {"traceparent": traceparent(SUBMIT_TRACE, SUBMIT_PARENT)}
        dossier_id = submit_birth(intake, headers={**submitted_with, **citizen()})
        accepted = intake.post(
            f"/v1/dossiers/{dossier_id}/accept",
            headers={"traceparent": traceparent(ACCEPT_TRACE, ACCEPT_PARENT), **officer()},
        )
    assert accepted.status_code == 200, accepted.text
    assert accepted.headers["traceparent"].split("-")[1] == ACCEPT_TRACE

    # The HTTP hop: intake's server span continues the caller's context. (It ends just
    # after the response is sent: wait for it.)
    (accept_span,) = eventually(
        partial(server_spans, spans_of["intake"], "POST /v1/dossiers/{dossier_id}/accept")
    )
    assert (accept_span["trace_id"], accept_span["parent"]) == (ACCEPT_TRACE, ACCEPT_PARENT)
    assert accept_span["service"] == "intake"

    # The Kafka hops: intake's events, workflow's derived from them, notify's outcome.
    def arrived(records: list[Record]) -> bool:
        kinds = {(r.event.get("producer"), r.event.get("type")) for r in records}
        return {("workflow", "StepStarted"), ("notify", "NoticeDelivered")} <= kinds

    records = [
        r
        for r in read_topic(
            broker.bootstrap,
            topic,
            lambda rs: arrived([r for r in rs if r.key == dossier_id]),
            timeout=60,
        )
        if r.key == dossier_id
    ]
    traces = {(r.event["producer"], r.event["type"]): trace_of(r) for r in records}
    assert traces[("intake", "DossierSubmitted")] == SUBMIT_TRACE
    assert traces[("intake", "DossierReceived")] == ACCEPT_TRACE
    assert traces[("workflow", "StepStarted")] == ACCEPT_TRACE  # made while consuming
    assert traces[("notify", "NoticeDelivered")] == ACCEPT_TRACE  # the inbox notice

    # The last consumers apply, in the same trace, the events they handle: notify
    # intake's acceptance, stats workflow's step (notify does not handle steps: it only
    # tracks them, undecoded and without a span of their own).
    for name, kind, producer in (
        ("notify", "DossierReceived", "intake"),
        ("stats", "StepStarted", "workflow"),
    ):
        (consumed,) = eventually(partial(consumer_spans, spans_of[name], dossier_id, kind))
        assert consumed["trace_id"] == ACCEPT_TRACE, name
        assert consumed["service"] == name
        assert consumed["attributes"]["messaging.system"] == "kafka"
        assert consumed["attributes"]["messaging.destination.name"] == topic
        assert consumed["attributes"]["motcua.event.producer"] == producer
    assert not consumer_spans(spans_of["notify"], dossier_id, "StepStarted")
    # ... and its parent is workflow's span that consumed intake's event.
    workflow_spans = {s["span_id"]: s for s in spans(spans_of["workflow"])}
    assert workflow_spans[consumed["parent"]]["attributes"]["motcua.event.type"] == (
        "DossierReceived"
    )
