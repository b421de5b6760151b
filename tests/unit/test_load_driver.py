"""The load driver's officers against a stand-in workflow: what a refusal tells them."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from devtools.load import Driver, Stuck, Trace, Urls
from motcua.runtime.settings import DEV_JWT_SECRET
from tests.unit.test_gateway_simulator import wait_until

HERE, THERE = "000.00.31.H23", "000.01.25.H23"


class Workflow:
    """A workflow whose dossier is at ``holder``; every action is refused with 403."""

    def __init__(self) -> None:
        self.holder = HERE
        self.app = FastAPI()

        @self.app.get("/v1/dossiers/{dossier_id}/timeline")
        def timeline(dossier_id: str) -> dict[str, Any]:
            return {"agency_code": self.holder, "status": "awaiting_handover", "steps": []}

        @self.app.post("/v1/dossiers/{dossier_id}/{action}")
        def act(dossier_id: str, action: str) -> JSONResponse:
            body = {"error": {"code": "forbidden", "message": "not yours", "details": []}}
            return JSONResponse(body, status_code=403)


@pytest.fixture
def workflow() -> Iterator[tuple[Workflow, str]]:
    stand_in = Workflow()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(stand_in.app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: bool(server.started), "the stand-in to start")
    yield stand_in, url
    server.should_exit = True
    thread.join(10)
    sock.close()


def _hand_over(url: str) -> Trace:
    async def run() -> Trace:
        async with Driver(Urls(url, url, url), DEV_JWT_SECRET) as driver:
            trace = driver.new_trace(0)
            trace.dossier_id = "d-1"
            await driver.act(trace, "hand-over", driver.officer(HERE), {})
            return trace

    return asyncio.run(run())


def test_a_403_after_the_dossier_moved_on_is_a_state_to_read_again(
    workflow: tuple[Workflow, str],
) -> None:
    stand_in, url = workflow
    stand_in.holder = THERE  # the first try of the hand-over took effect

    trace = _hand_over(url)

    assert trace.retries == 1
    assert trace.requests == {url.removeprefix("http://"): 2}  # the refused try, the timeline


def test_a_403_while_the_dossier_is_still_here_stops_the_dossier(
    workflow: tuple[Workflow, str],
) -> None:
    _, url = workflow

    with pytest.raises(Stuck, match="hand-over: 403"):
        _hand_over(url)
