"""What every service's HTTP app shares: one error body, health probes, error mapping.

Every error answers ``{"error": {"code", "message", "details"}}``; a bug answers 500
with a reference to the log line, never a stack trace.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from motcua import metrics
from motcua.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    LimitReached,
    NotFound,
    Unauthorized,
    Unavailable,
)

log = structlog.get_logger(__name__)

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


def correlation_id(x_request_id: Annotated[str | None, Header()] = None) -> str:
    """The caller's ``X-Request-ID`` (to follow one request across services), or a new id."""
    return x_request_id or uuid.uuid4().hex


CorrelationId = Annotated[str, Depends(correlation_id)]


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details or []))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


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


def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return error_response(error.status_code, code, str(error.detail))


def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    reference = uuid.uuid4().hex[:12]
    log.error("unexpected error", reference=reference, path=request.url.path, exc_info=error)
    return error_response(
        500, "internal_error", f"an unexpected error occurred; reference {reference}"
    )


def install_common(app: FastAPI, *, ready: Any = None) -> None:
    """Add error handlers, the ``/healthz`` and ``/readyz`` probes and ``/metrics``."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz() -> JSONResponse:
        """The service can take requests: store open, relay and consumers running."""
        problems: list[str] = ready() if ready else []
        status = 200 if not problems else 503
        return JSONResponse({"ready": not problems, "problems": problems}, status_code=status)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus_metrics() -> Response:
        """Prometheus metrics: consumer and relay lag, handler latency, DLQ, notices."""
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)
