"""Trace context from an HTTP request, through the stored event and Kafka headers, into
a consumer's span and the events its handler creates (motcua/core/tracing.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from aiokafka import ConsumerRecord
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from contracts.envelope import Envelope
from contracts.events import DossierSubmitted, encode
from motcua.core import tracing
from motcua.core.tracing import current_traceparent, stored_trace
from motcua.runtime.consumer import TrackedConsumer
from motcua.runtime.handlers import Handlers
from motcua.runtime.mapping import contracts_of
from motcua.runtime.store import Store, store_env
from motcua.web.http import TELEMETRY, install_common
from services.intake.to_contract import IntakePublisher
from services.notify.domain import Notice
from tests.support.dossiers import intake_relay, make_intake, submit
from tests.support.ledger import offline_consumer

# A caller's context, as W3C trace context writes it.
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture(scope="module")
def exported() -> Iterator[InMemorySpanExporter]:
    """This process's provider (as ``serve.py`` installs it) with spans kept in memory."""
    provider = tracing.configure("unit-tests")
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the provider stays for the session; this stops keeping spans


@pytest.fixture
def spans(exported: InMemorySpanExporter) -> InMemorySpanExporter:
    exported.clear()
    return exported


def notice() -> Notice:
    return Notice(
        source_event_id=uuid.uuid4(),
        channel="inbox",
        dossier_id=uuid.uuid4(),
        kind="received",
        account="citizen-1",
        recipient="citizen-1",
        subject="s",
        body="b",
        due_at=datetime.now(UTC),
    )


def trace_id_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


# -- the event remembers the context it was created in ------------------------------------


def test_an_event_created_in_a_span_captures_its_traceparent(
    spans: InMemorySpanExporter,
) -> None:
    with trace.get_tracer(__name__).start_as_current_span("request") as span:
        created = notice()
        created.start_attempt(at=datetime.now(UTC))
    context = span.get_span_context()

    events = created.collect_events()

    expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert [e.traceparent for e in events] == [expected, expected]  # type: ignore[attr-defined]


def test_an_event_created_outside_any_span_has_no_traceparent() -> None:
    events = notice().collect_events()

    assert events[0].traceparent == ""  # type: ignore[attr-defined]
    assert stored_trace(events[0]) == {}


def test_the_context_survives_the_store_and_old_events_without_it_still_load(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    app: Application[Any] = Application(store_env(None, str(tmp_path), "t"))
    with trace.get_tracer(__name__).start_as_current_span("request"):
        created = notice()
        expected = current_traceparent()
    app.save(created)
    (stored,) = app.recorder.select_notifications(1, 10)
    old_state = json.loads(stored.state)
    del old_state["traceparent"], old_state["tracestate"]  # as written before tracing
    old = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(old_state).encode(),
    )

    loaded = app.mapper.to_domain_event(stored)
    loaded_old = app.mapper.to_domain_event(old)

    assert stored_trace(loaded) == {"traceparent": expected}
    assert stored_trace(loaded_old) == {}
    assert app.repository.get(created.id).subject == "s"


# -- the relay puts it into the record's headers ---------------------------------------


class FakeProducer:
    """Records what the relay sends; every send is acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, topic: str, value: bytes, **kwargs: Any) -> asyncio.Future[None]:
        self.sent.append({"topic": topic, "value": value, **kwargs})
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def test_the_relay_sends_the_stored_context_in_the_record_headers(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    intake = make_intake(None, tmp_path / "var")
    with trace.get_tracer(__name__).start_as_current_span("POST /v1/dossiers"):
        traced = submit(intake)
        expected = current_traceparent()
    untraced = submit(intake)
    producer = FakeProducer()
    relay = intake_relay(intake, producer, "dossier-events")

    asyncio.run(relay.publish_once())

    by_key = {m["key"].decode(): m for m in producer.sent}
    headers = dict(by_key[str(traced)]["headers"])
    assert headers["traceparent"] == expected.encode()
    assert {"producer", "position", "type"} <= set(headers)  # the existing headers stay
    assert "traceparent" not in dict(by_key[str(untraced)]["headers"])
    assert b"traceparent" not in by_key[str(traced)]["value"]  # the envelope is unchanged


# -- the consumer continues it ---------------------------------------------------------


def record(value: bytes, headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="dossier-events", partition=3, offset=7, timestamp=0, timestamp_type=0,
        key=b"k", value=value, checksum=None, serialized_key_size=1,
        serialized_value_size=len(value), headers=headers,
    )  # fmt: skip


def submitted(var_dir: Path) -> Envelope:
    """A contract event as intake publishes it."""
    intake = make_intake(None, var_dir)
    submit(intake)
    (stored,) = intake.recorder.select_notifications(1, 10)
    (event,) = contracts_of(
        [intake.mapper.to_domain_event(stored)], IntakePublisher(intake), intake.repository
    )
    assert event is not None
    return event


def consumer_of(tmp_path: Path, handler: Any, dlq: Any = None) -> TrackedConsumer:
    app: Application[Any] = Application(store_env(None, str(tmp_path), "t"))
    store = Store(app.recorder)  # type: ignore[arg-type]
    handlers = Handlers({DossierSubmitted: handler})
    return offline_consumer(app, store, handlers, "dossier-events", dlq or MagicMock())


def only(spans: InMemorySpanExporter, kind: SpanKind) -> ReadableSpan:
    found = [s for s in spans.get_finished_spans() if s.kind == kind]
    assert len(found) == 1, found
    return found[0]


def test_the_consumer_continues_the_trace_of_the_headers(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    created: list[Notice] = []
    consumer = consumer_of(tmp_path, lambda event, uow: created.append(notice()))
    event = submitted(tmp_path / "intake")
    headers = [("producer", b"payment"), ("position", b"5"), ("traceparent", TRACEPARENT.encode())]

    asyncio.run(consumer.apply_batch([record(encode(event), headers)]))

    span = only(spans, SpanKind.CONSUMER)
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT_ID
    assert span.attributes is not None
    assert span.attributes["messaging.system"] == "kafka"
    assert span.attributes["messaging.destination.name"] == "dossier-events"
    assert span.attributes["motcua.event.type"] == "DossierSubmitted"
    assert span.attributes["messaging.message.id"] == str(event.event_id)
    # what the handler created carries the trace on, as the consumer span's child
    (planned,) = created[0].collect_events()
    assert planned.traceparent == f"00-{TRACE_ID}-{span.context.span_id:016x}-01"  # type: ignore[attr-defined]
    assert consumer.applied == 1


def test_a_message_without_context_starts_a_trace_of_its_own(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    seen: list[str] = []
    consumer = consumer_of(tmp_path, lambda event, uow: seen.append(current_traceparent()))
    payload = encode(submitted(tmp_path / "intake"))

    asyncio.run(consumer.apply_batch([record(payload, [("producer", b"p"), ("position", b"1")])]))

    span = only(spans, SpanKind.CONSUMER)
    assert span.parent is None
    assert trace_id_of(seen[0]) == f"{span.context.trace_id:032x}"


def test_a_dead_lettered_message_keeps_its_headers_and_marks_the_span(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    dlq = MagicMock()
    sent: list[list[tuple[str, bytes]]] = []

    async def send_and_wait(topic: str, value: bytes, **kwargs: Any) -> None:
        sent.append(kwargs["headers"])

    dlq.send_and_wait = send_and_wait
    consumer = consumer_of(tmp_path, lambda event, uow: None, dlq)
    headers = [("producer", b"p"), ("position", b"1"), ("traceparent", TRACEPARENT.encode())]

    asyncio.run(consumer.apply_batch([record(b"{not json", headers)]))

    assert ("traceparent", TRACEPARENT.encode()) in sent[0]
    span = only(spans, SpanKind.CONSUMER)
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.status.status_code == StatusCode.ERROR


# -- HTTP: the request's span -------------------------------------------------------------


def traced_app() -> FastAPI:
    app = FastAPI(telemetry=TELEMETRY)  # as every service builds its app
    install_common(app)

    @app.get("/things/{thing_id}")
    def thing(thing_id: str) -> dict[str, str]:
        return {"traceparent": current_traceparent()}  # what an event created here gets

    return app


def test_a_request_continues_the_callers_trace_and_names_the_span_by_route(
    spans: InMemorySpanExporter,
) -> None:
    with TestClient(traced_app()) as client:
        response = client.get("/things/42", headers={"traceparent": TRACEPARENT})

    span = only(spans, SpanKind.SERVER)
    assert span.name == "GET /things/{thing_id}"
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT_ID
    assert response.json()["traceparent"] == response.headers["traceparent"]
    assert response.headers["traceparent"] == f"00-{TRACE_ID}-{span.context.span_id:016x}-01"


def test_a_request_without_context_starts_a_trace_and_probes_are_not_traced(
    spans: InMemorySpanExporter,
) -> None:
    with TestClient(traced_app()) as client:
        response = client.get("/things/1")
        probe = client.get("/healthz")

    span = only(spans, SpanKind.SERVER)
    assert span.parent is None
    assert trace_id_of(response.headers["traceparent"]) == f"{span.context.trace_id:032x}"
    assert "traceparent" not in probe.headers


# -- exporting -----------------------------------------------------------------------------


def test_the_spans_file_has_one_json_line_per_finished_span(tmp_path: Path) -> None:
    path = tmp_path / "spans" / "intake.jsonl"
    provider = TracerProvider(resource=Resource.create({"service.name": "intake"}))
    provider.add_span_processor(SimpleSpanProcessor(tracing.JsonLinesExporter(path)))
    tracer = provider.get_tracer(__name__)

    with (
        tracer.start_as_current_span("outer", kind=SpanKind.SERVER) as outer,
        tracer.start_as_current_span("inner", attributes={"a": 1}),
    ):
        pass

    inner, written_outer = [json.loads(line) for line in path.read_text().splitlines()]
    assert (
        inner["trace_id"]
        == written_outer["trace_id"]
        == f"{outer.get_span_context().trace_id:032x}"
    )
    assert inner["parent"] == written_outer["span_id"]
    assert written_outer["parent"] is None
    assert (inner["name"], inner["kind"], inner["service"]) == ("inner", "INTERNAL", "intake")
    assert inner["attributes"] == {"a": 1}


def test_exporters_are_named_by_the_standard_variable() -> None:
    assert tracing.exporters_named("") == []
    assert tracing.exporters_named("none") == []
    assert [type(e).__name__ for e in tracing.exporters_named("console")] == ["ConsoleSpanExporter"]
    with pytest.raises(ValueError, match="otlp"):
        tracing.exporters_named("otlp")  # opentelemetry-exporter-otlp is not installed
