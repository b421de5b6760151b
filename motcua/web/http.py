"""What every service's HTTP app shares: one error body, health probes, error mapping,
and a trace per request.

Every error answers ``{"error": {"code", "message", "details"}}``; a bug answers 500
with a reference to the log line, never a stack trace.

Every request but the probes runs in a SERVER span (FastAPI's own) that continues the
caller's ``traceparent`` (or starts a trace), so the events it creates remember it
(``tracing.py``); the response's ``traceparent`` header names that span.

Every request is logged and counted by the access log (``access_log.py``), which also
serves ``/v1/access-report``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from motcua.core import metrics
from motcua.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    LimitReached,
    NotFound,
    Unauthorized,
    Unavailable,
)
from motcua.core.tracing import TRACEPARENT, current_traceparent

log = structlog.get_logger(__name__)
# How long an idle HTTP connection stays open. It must outlast the clients' own idle
# expiry (httpx: 5 s; a load balancer's: commonly 60 s), so that it is always the client
# that drops an idle connection. Were both 5 s (uvicorn's default), a request sent just
# as the server closes the connection would fail with "Server disconnected without
# sending a response".
KEEP_ALIVE_SECONDS = 75

UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes

STATUS_OF: dict[type[DomainError], int] = {
    NotFound: 404,
    Forbidden: 403,
    Unauthorized: 401,
    Conflict: 409,
    Invalid: 422,
    LimitReached: 409,
    Unavailable: 503,
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] = []


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 413, 422, 503)
}


def file_responses(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route whose success is a page or a file; give the route
    ``response_class=Response`` too. FastAPI documents the error models under the media
    type of the route's response class, and errors are JSON whatever the route: the plain
    ``Response`` has none, so they are documented as JSON, and the success as said here."""
    text = media_type.startswith("text/")
    schema = {"type": "string"} if text else {"type": "string", "format": "binary"}
    return {200: {"description": description, "content": {media_type: {"schema": schema}}}}


# Bounded, so that no page is asked past what a store can count (SQLite's integers
# have 64 bits: a larger offset was a 500).
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]


def _iso_day(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


# A day in a path or a query, as the document says (``format: date``): pydantic alone
# also reads a number there as seconds since 1970 (``/reconciliations/0`` was 1970-01-01).
Day = Annotated[date, BeforeValidator(_iso_day)]


class Readiness(BaseModel):
    ready: bool
    problems: list[str] = Field(description="Why the service is not ready, if it is not")


def correlation_id(request: Request, x_request_id: Annotated[str | None, Header()] = None) -> str:
    """The caller's ``X-Request-ID`` (to follow one request across services), or a new id:
    the one the access log wrote for this request (``access_log.py``), when it runs."""
    chosen: str | None = getattr(request.state, "correlation_id", None)
    return chosen or x_request_id or uuid.uuid4().hex


CorrelationIdDep = Annotated[str, Depends(correlation_id)]


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The error body; ``headers`` are the ones HTTP asks of the status (``Allow`` of a
    405), and a 401 says which credentials to send (``WWW-Authenticate``)."""
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details or []))
    sent = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    sent.update(headers or {})
    return JSONResponse(body.model_dump(), status_code=status, headers=sent or None)


def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status = next((s for kind, s in STATUS_OF.items() if isinstance(error, kind)), 400)
    return error_response(status, error.code, error.message, error.details)


def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = [
        {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in error.errors()
    ]
    return error_response(422, "invalid_request", "the request is not valid", details)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method the request's path has, for the ``Allow`` of a 405: those a route
    matches in full. Starlette names only the methods of the first route matching the
    path, and a path may have one route per method (``GET`` and ``POST /v1/dossiers``)."""
    scope = request.scope
    base = {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", "")}
    return ", ".join(
        method
        for method in METHODS
        if any(
            route.matches({**base, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    )


def _http_error(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own errors (no route, wrong method, a body it cannot read), in the
    error body, with the headers the exception carries."""
    assert isinstance(error, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
    return error_response(error.status_code, code, str(error.detail), headers=headers)


def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    reference = uuid.uuid4().hex[:12]
    # The route's template, not the path: a path holds dossier codes and ID numbers.
    from motcua.web.access_log import route_template  # it builds on this module

    route = route_template(request.scope)
    log.error("unexpected error", reference=reference, route=route, exc_info=error)
    return error_response(
        500, "internal_error", f"an unexpected error occurred; reference {reference}"
    )


class EchoTraceparent:
    """ASGI middleware: the response's ``traceparent`` header names the request's span,
    so a caller can find its request's trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        traceparent = current_traceparent().encode("latin-1") if scope["type"] == "http" else b""
        if not traceparent:  # tracing not configured, or an untraced path
            await self.app(scope, receive, send)
            return

        async def send_traced(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (TRACEPARENT.encode(), traceparent)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_traced)


def _untraced(scope: Any) -> bool:
    return scope.get("path") in UNTRACED_PATHS


# FastAPI's own request telemetry, for every service's ``FastAPI(telemetry=TELEMETRY)``:
# the request's span only (none per dependency, endpoint and serialization), and none
# for the probes and scrapes.
TELEMETRY: Any = {"operation_spans": False, "exclude": _untraced}


def _trace_requests(app: FastAPI) -> None:
    """FastAPI makes the request's SERVER span itself once a tracer provider is installed
    (``tracing.configure``): it continues the caller's context (or starts a trace), names
    the span ``METHOD /route`` and keeps it current while the handler runs, in the thread
    pool too. Here: only that span (not one per dependency, endpoint and serialization),
    none for probes and scrapes, and its ``traceparent`` echoed.

    The span settings are ``TELEMETRY``, which every service passes to ``FastAPI()``.
    """
    app.add_middleware(EchoTraceparent)


def _without_null(parameter: dict[str, Any]) -> None:
    """An optional parameter's schema as FastAPI writes it for ``X | None`` is
    ``anyOf: [X, null]``, but a path, query, header or cookie has no null to send: it is
    absent or a string. Read as a JSON value (a header ``null``), the ``null`` became a
    value the document allowed and the code refused, hiding the constraints of ``X``
    (the ``Idempotency-Key``'s length). Here the schema is ``X``, with its own keywords."""
    schema = parameter.get("schema", {})
    choices = schema.get("anyOf", [])
    if parameter.get("required") or {"type": "null"} not in choices:
        return
    rest = [c for c in choices if c != {"type": "null"}]
    del schema["anyOf"]
    if len(rest) == 1:
        schema.update({**rest[0], **schema})
    else:
        schema["anyOf"] = rest


def _document_parameters_without_null(app: FastAPI) -> None:
    """``app.openapi`` with every parameter's schema as ``_without_null`` says."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    _without_null(parameter)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _service_store(app: FastAPI) -> tuple[str, Any]:
    """The service's name and store, from its workers (every service's composition root
    sets ``app.state.workers`` before ``install_common``: each worker has both)."""
    for worker in getattr(app.state, "workers", ()):
        store = getattr(worker, "store", None)
        if store is not None:
            return str(worker.name), store
    return app.title, None


def install_common(
    app: FastAPI, *, ready: Any = None, service: str | None = None, store: Any = None
) -> None:
    """Add error handlers, the ``/healthz`` and ``/readyz`` probes, ``/metrics``, request
    tracing, the access log and ``/v1/access-report`` (``access_log.py``); document
    optional parameters as what can be sent. ``service`` and ``store`` default to those
    of the app's workers."""
    from motcua.web.access_log import install_access_log  # it builds on this module

    found_service, found_store = _service_store(app)
    _trace_requests(app)
    install_access_log(app, service or found_service, store if store is not None else found_store)
    _document_parameters_without_null(app)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready"}},
    )
    def readyz() -> JSONResponse:
        """The service can take requests: store open, relay and consumers running."""
        problems: list[str] = ready() if ready else []
        status = 200 if not problems else 503
        return JSONResponse({"ready": not problems, "problems": problems}, status_code=status)

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses=file_responses("text/plain", "Prometheus' text format"),
    )
    def prometheus_metrics() -> Response:
        """Prometheus metrics: consumer and relay lag, handler latency, DLQ, notices."""
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)
