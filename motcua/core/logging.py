"""structlog set up for JSON lines on stderr, one call per process."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "INFO", *, service: str | None = None) -> None:
    """Render every log record as one JSON object, bound with the service name."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    # httpx logs every request it sends at INFO (notify's SMS gateway and webhooks: a
    # line per notice); its failures reach us as exceptions, so it speaks at DEBUG only.
    if logging.getLevelName(level.upper()) > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)
