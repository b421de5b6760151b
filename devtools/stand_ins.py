"""How every development stand-in of an outside system is served: on 127.0.0.1 only
(their ``/sim`` controls are unsigned), without uvicorn's own logging, keeping idle
connections as long as the services do (``KEEP_ALIVE_SECONDS``)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from motcua.web.http import KEEP_ALIVE_SECONDS


def serve(app: FastAPI, port: int) -> None:
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
