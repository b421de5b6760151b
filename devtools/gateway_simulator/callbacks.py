"""Sending the simulated gateway's callbacks to the merchant, as a real one would:
signed, possibly late, duplicated or shuffled (``SimConfig``), and again until the
merchant answers 2xx."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

import httpx
import structlog

from devtools.gateway_simulator.models import Delivery, SimConfig
from devtools.gateway_simulator.simulator import Simulator
from services.payment.gateway import Callback, signed_headers

log = structlog.get_logger(__name__)

FIRST_BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 5.0
SEND_TIMEOUT_SECONDS = 10.0


class CallbackSender:
    """Sends callbacks from background tasks of the app's event loop.

    The copies of an outcome's callbacks get their first attempt one after another, in
    the planned order; a copy that fails keeps trying on its own (backoff 0.2 s doubling
    to 5 s, forever), so one refused callback never holds back the others.
    """

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.tasks: set[asyncio.Task[None]] = set()
        self.client: httpx.AsyncClient | None = None

    def schedule(self, callbacks: Sequence[Callback], url: str, config: SimConfig) -> None:
        sends = self.sim.plan(callbacks, url, config)
        self._spawn(self._send_all(sends, config.delay_seconds))

    def _spawn(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send_all(self, sends: Sequence[Delivery], delay: float) -> None:
        for send in sends:
            await asyncio.sleep(delay)
            if not await self._attempt(send):
                self._spawn(self._retry(send))

    async def _retry(self, send: Delivery) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            await asyncio.sleep(backoff)
            if await self._attempt(send):
                return
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _attempt(self, send: Delivery) -> bool:
        """One POST, signed now so that a late copy still carries a fresh timestamp."""
        body = send.callback.model_dump_json().encode()
        headers = {"Content-Type": "application/json", **signed_headers(self.sim.secret, body)}
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS)
        try:
            response = await self.client.post(send.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            self.sim.note_attempt(send, None, repr(error))
            return False
        ok = response.is_success
        self.sim.note_attempt(send, response.status_code, None if ok else response.text[:300])
        if response.status_code == 401:
            log.warning(
                "callback refused as unsigned: do both sides share the secret?",
                url=send.url,
                event_id=send.callback.event_id,
            )
        return ok

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()
            self.client = None
