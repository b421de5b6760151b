"""A service process serves HTTP on uvloop's event loop with httptools' parser, and keeps
an idle connection open longer than its clients keep theirs.

The service is built by its composition root and served with the options ``serve.py``
gives uvicorn; the route added here reports the loop its requests (and so the
service's background workers) run on. No broker is reachable: the workers keep trying.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from motcua.runtime.settings import Settings
from ops.serve import server_options
from services.intake.main import create_app
from tests.support.processes import ROOT
from tests.unit.test_gateway_simulator import wait_until


@contextmanager
def served(tmp_path: Path) -> Iterator[tuple[int, uvicorn.Config]]:
    """Intake served as ``python -m ops.serve intake`` serves it, on a free port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    settings = Settings(var_dir=tmp_path, intake_port=port, kafka_bootstrap_servers="127.0.0.1:1")
    app = create_app(settings)

    @app.get("/test/loop")
    async def loop() -> dict[str, str]:
        return {"loop": type(asyncio.get_running_loop()).__module__}

    config = uvicorn.Config(app, **server_options(settings, "intake"))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: bool(server.started), "the service to start")
        yield port, config
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_a_service_is_served_on_uvloop_with_httptools(tmp_path: Path) -> None:
    with served(tmp_path) as (port, config):
        answer = httpx.get(f"http://127.0.0.1:{port}/test/loop", timeout=10)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)

    assert answer.json() == {"loop": "uvloop"}
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
    assert (config.loop, config.http) == ("uvloop", "httptools")  # never a fallback
    assert health.status_code == 200, health.text


def test_an_idle_connection_outlives_the_clients_keep_alive(tmp_path: Path) -> None:
    """httpx reuses an idle connection for up to 5 s. Were the server to close it at
    5 s as well (uvicorn's default), a request sent at that moment would meet a closed
    connection: "Server disconnected without sending a response". The server keeps it
    longer, so it is always the client that lets an idle connection go."""
    client_keeps = httpx.Limits().keepalive_expiry or 0.0
    with served(tmp_path) as (port, _):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/healthz")
        first = conn.getresponse()
        first.read()
        sock = conn.sock
        time.sleep(client_keeps + 0.5)
        conn.request("GET", "/healthz")  # on the same connection, idle as long as httpx's
        second = conn.getresponse()
        second.read()
        same = conn.sock is sock
        conn.close()

    assert (first.status, second.status) == (200, 200)
    assert same


def test_serving_a_service_other_than_workflow_does_not_load_the_pdf_signer() -> None:
    """pyhanko takes about a second of CPU to import; only workflow signs results, and
    every other service process (started again after each crash) should not pay for it."""
    probe = "import sys, ops.serve; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout

    assert "'ops'" in loaded
    assert "'pyhanko'" not in loaded
