"""``python -m ops.serve <service>``: run one service process (HTTP + background work)."""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

from motcua.core.logging import configure_logging
from motcua.core.tracing import configure as configure_tracing
from motcua.runtime.faults import Faults, faults_of
from motcua.runtime.settings import Settings
from motcua.runtime.workers import RelayWorker
from motcua.web.auth import auth_problem
from motcua.web.http import KEEP_ALIVE_SECONDS
from services.registry import NAMES, service


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1 or args[0] not in NAMES:
        sys.exit(f"usage: python -m ops.serve {{{','.join(NAMES)}}}")
    entry = service(args[0])
    settings = Settings()
    if problem := auth_problem(settings) or entry.start_problem(settings):
        sys.exit(f"{entry.name} does not start: {problem}")  # exit code 1, no traceback
    configure_logging(settings.log_level, service=entry.name)
    configure_tracing(entry.name, settings.otel_spans_file, settings.otel_traces_exporter)
    app = entry.root.create_app(settings)
    inject_faults(app, faults_of(settings))
    uvicorn.run(app, **server_options(settings, entry.name))


def inject_faults(app: FastAPI, faults: Faults | None) -> None:
    """The faults a crash test asked for (``faults_of``), into the app's relay workers;
    nothing when there are none, as in production."""
    if faults is None:
        return
    for worker in app.state.workers:
        if isinstance(worker, RelayWorker):
            worker.faults = faults


def server_options(settings: Settings, service: str) -> dict[str, Any]:
    """How uvicorn serves ``service``: on uvloop's event loop, parsing HTTP with httptools.

    Both are the C implementations of what uvicorn otherwise does in Python (asyncio's
    loop, h11): less CPU per request and for the background workers, which share the
    loop (aiokafka, the relay, the consumers). They are named, not left to ``auto``, so
    a missing package stops the process at start instead of falling back unnoticed.
    Idle connections are kept ``KEEP_ALIVE_SECONDS``.
    """
    return {
        "loop": "uvloop",
        "http": "httptools",
        "host": settings.host,
        "port": settings.port_of(service),
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    }


if __name__ == "__main__":
    main()
