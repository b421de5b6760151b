"""``python -m motcua.serve <service>``: run one service process (HTTP + background work)."""

from __future__ import annotations

import importlib
import os
import sys

import uvicorn

from motcua.logging import configure_logging
from motcua.runtime.settings import SERVICE_NAMES, Settings
from motcua.tracing import configure as configure_tracing


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1 or args[0] not in SERVICE_NAMES:
        sys.exit(f"usage: python -m motcua.serve {{{','.join(SERVICE_NAMES)}}}")
    service = args[0]
    settings = Settings()
    configure_logging(settings.log_level, service=service)
    # OTEL_TRACES_EXPORTER is OpenTelemetry's own variable, not one of our settings.
    configure_tracing(service, settings.otel_spans_file, os.environ.get("OTEL_TRACES_EXPORTER", ""))
    module = importlib.import_module(f"services.{service}.main")
    app = module.create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port_of(service),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
