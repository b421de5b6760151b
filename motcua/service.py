"""Runs a service's background work beside its HTTP API: the outbox relay for now.

The relay keeps trying while the broker is away: events wait safely in the store and
are published when it is back, so the HTTP API never depends on the broker being up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from uuid import UUID

import structlog
from eventsourcing.application import Application
from fastapi import FastAPI

from motcua.kafka import ensure_topics, start_producer
from motcua.relay import OutboxRelay, ToContract
from motcua.settings import Settings
from motcua.store import Store

log = structlog.get_logger(__name__)


class RelayWorker:
    """Owns the producer and the relay task of one service; restarts them after errors."""

    def __init__(
        self,
        settings: Settings,
        app: Application[UUID],
        store: Store,
        name: str,
        to_contract: ToContract,
    ) -> None:
        self.settings, self.app, self.store = settings, app, store
        self.name, self.to_contract = name, to_contract
        self.relay: OutboxRelay | None = None
        self.connected = False

    async def run(self) -> None:
        if not self.settings.relay_enabled:
            log.warning("relay disabled by settings: events stay in the store unpublished")
            return
        delay = 0.5
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # broker away or store error: retry, never give up
                self.connected = False
                log.warning("relay stopped; retrying", error=repr(error), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _run_once(self) -> None:
        s = self.settings
        await ensure_topics(s, [s.dossier_topic, s.dlq_topic(self.name)])
        producer = await start_producer(s)
        try:
            self.relay = OutboxRelay(
                self.app,
                self.store,
                producer,
                name=self.name,
                topic=s.dossier_topic,
                to_contract=self.to_contract,
                batch_size=s.relay_batch_size,
                idle_seconds=s.relay_idle_seconds,
                exit_after_publish=s.fault_relay_exit_after_publish,
            )
            self.connected = True
            log.info("relay publishing", topic=s.dossier_topic)
            await self.relay.run()
        finally:
            self.connected = False
            await producer.stop()

    def problems(self) -> list[str]:
        if self.connected or not self.settings.relay_enabled:
            return []
        return ["not connected to the Kafka broker yet"]


def lifespan_with(
    *workers: RelayWorker,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan that runs ``workers`` while the app serves."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan
