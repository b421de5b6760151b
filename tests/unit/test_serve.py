"""A service process serves HTTP on uvloop's event loop with httptools' parser.

The service is built by its composition root and served with the options ``serve.py``
gives uvicorn; the route added here reports the loop its requests (and so the
service's background workers) run on. No broker is reachable: the workers keep trying.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import httpx
import uvicorn

from motcua.runtime.settings import Settings
from ops.serve import server_options
from services.intake.main import create_app
from tests.unit.test_gateway_simulator import wait_until


def test_a_service_is_served_on_uvloop_with_httptools(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    settings = Settings(var_dir=tmp_path, intake_port=port, kafka_bootstrap_servers="127.0.0.1:1")
    app = create_app(settings)

    @app.get("/test/loop")
    async def loop() -> dict[str, str]:
        return {"loop": type(asyncio.get_running_loop()).__module__}

    options = server_options(settings, "intake")
    config = uvicorn.Config(app, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: bool(server.started), "the service to start")
        answer = httpx.get(f"http://127.0.0.1:{port}/test/loop", timeout=10)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()

    assert answer.json() == {"loop": "uvloop"}
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
    assert (options["loop"], options["http"]) == ("uvloop", "httptools")  # never a fallback
    assert health.status_code == 200, health.text
