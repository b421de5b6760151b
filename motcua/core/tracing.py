"""OpenTelemetry: one trace from an HTTP request to the last consumer, through Kafka.

The hops, and where each is made:

* HTTP (``http.py``): a server span per request, continuing the caller's W3C
  ``traceparent``/``tracestate`` or starting a new trace; its ``traceparent`` is echoed
  in the response.
* The store: the relay publishes later, from another task, so every domain event keeps
  the context it was created in (``TracedAggregate.Event``'s ``traceparent`` and
  ``tracestate`` fields), saved atomically with the event. Events stored before tracing
  existed have no such attribute: read them with ``stored_trace(event)``.
* Kafka (``relay.py``): the stored context travels in the record's headers, never in the
  JSON envelope (the dossier's hash chain covers the envelope).
* Consumers (``consumer.py``): each message is applied inside a CONSUMER span continuing
  the headers' context, so the events its handler creates carry the same trace on.

Exporting happens only when configured, once per process (``configure``):

* ``MOTCUA_OTEL_SPANS_FILE``: every finished span as one JSON line (tests, debugging);
* ``OTEL_TRACES_EXPORTER``: OpenTelemetry's standard variable, naming exporters
  registered under the ``opentelemetry_traces_exporter`` entry point, each behind a
  batch processor. The SDK ships ``console``. To send spans to a collector in
  production, install ``opentelemetry-exporter-otlp`` in the image and set
  ``OTEL_TRACES_EXPORTER=otlp`` with ``OTEL_EXPORTER_OTLP_ENDPOINT`` (and the other
  ``OTEL_EXPORTER_OTLP_*`` variables, read by the exporter itself). Unlike the SDK's
  default, unset means no exporter.

With neither, spans are still made (ids to propagate) but nothing is exported.
``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_TRACES_SAMPLER`` are honoured by the SDK.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import structlog
from eventsourcing.domain import Aggregate
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = structlog.get_logger(__name__)

TRACEPARENT, TRACESTATE = "traceparent", "tracestate"
# Our own hops (store, Kafka) always speak W3C trace context, whatever propagators an
# operator chose for HTTP callers.
W3C = TraceContextTextMapPropagator()
EXPORTER_GROUP = "opentelemetry_traces_exporter"

_provider: TracerProvider | None = None
_lock = threading.Lock()


def current_trace() -> dict[str, str]:
    """The current span's ``traceparent`` (and ``tracestate``); empty outside any span."""
    carrier: dict[str, str] = {}
    W3C.inject(carrier)
    return carrier


def current_traceparent() -> str:
    return current_trace().get(TRACEPARENT, "")


def current_tracestate() -> str:
    return current_trace().get(TRACESTATE, "")


class TracedAggregate(Aggregate):
    """An aggregate whose events remember the trace they were created in.

    The fields are keyword-only with factories, so no command method changes: the
    event captures the context current when it is triggered (an HTTP request's span or
    a consumer's span), and the relay sends it on in the record's headers.
    """

    class Event(Aggregate.Event):
        traceparent: str = field(default_factory=current_traceparent, kw_only=True)
        tracestate: str = field(default_factory=current_tracestate, kw_only=True)


def stored_trace(event: object) -> dict[str, str]:
    """The context a stored event was created in (empty for events older than tracing)."""
    carrier = {
        TRACEPARENT: getattr(event, TRACEPARENT, ""),
        TRACESTATE: getattr(event, TRACESTATE, ""),
    }
    return {name: value for name, value in carrier.items() if value}


def context_from(headers: Iterable[tuple[str | bytes, bytes]] | None) -> Context:
    """The W3C context in Kafka record headers (or ASGI headers); empty if none."""
    carrier: dict[str, str] = {}
    for key, value in headers or ():
        name = key.decode("latin-1") if isinstance(key, bytes) else key
        if name in (TRACEPARENT, TRACESTATE):
            carrier[name] = value.decode("latin-1")
    return W3C.extract(carrier) if carrier else Context()


# -- exporting ---------------------------------------------------------------------------


class JsonLinesExporter(SpanExporter):
    """Appends each finished span to a file as one JSON line: what the tests read."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(s), default=str) + "\n" for s in spans)
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(lines)
        return SpanExportResult.SUCCESS


def span_record(span: ReadableSpan) -> dict[str, Any]:
    context, parent = span.get_span_context(), span.parent
    assert context is not None
    return {
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent": f"{parent.span_id:016x}" if parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name"),
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
        "start": span.start_time,
        "end": span.end_time,
    }


def exporters_named(names: str) -> list[SpanExporter]:
    """The exporters of ``OTEL_TRACES_EXPORTER`` (comma-separated; ``none`` for none)."""
    wanted = [n.strip() for n in names.split(",") if n.strip() and n.strip() != "none"]
    found = {e.name: e for e in entry_points(group=EXPORTER_GROUP) if e.name in wanted}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ValueError(f"no OpenTelemetry span exporter named {missing} is installed")
    return [found[n].load()() for n in wanted]


def configure(service: str, spans_file: Path | None = None, exporters: str = "") -> TracerProvider:
    """Install this process's tracer provider (once; later calls return the first)."""
    global _provider
    with _lock:
        if _provider is not None:
            return _provider
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        processors: list[SpanProcessor] = []
        if spans_file is not None:
            processors.append(SimpleSpanProcessor(JsonLinesExporter(spans_file)))
        processors += [BatchSpanProcessor(e) for e in exporters_named(exporters)]
        for processor in processors:
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _provider = provider
    log.info("tracing configured", service=service, exporters=len(processors))
    return provider
