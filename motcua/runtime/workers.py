"""Runs a service's background work beside its HTTP API: relay, consumer, clock.

Each worker keeps trying while the broker is away: events wait safely in the store and
are published (or consumed) when it is back, so the HTTP API never depends on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from aiokafka import AIOKafkaProducer
from eventsourcing.application import Application
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from contracts.envelope import Envelope, one_of
from contracts.events import EVENTS_OF
from motcua.core import metrics
from motcua.runtime.broker import kafka_broker
from motcua.runtime.consumer import TrackedConsumer
from motcua.runtime.faults import Faults
from motcua.runtime.handlers import Handlers
from motcua.runtime.kafka import client_options, ensure_topics, start_producer
from motcua.runtime.mapping import ToContract
from motcua.runtime.publishing import FastStreamTopic
from motcua.runtime.relay import OutboxRelay
from motcua.runtime.settings import Settings
from motcua.runtime.store import Store

log = structlog.get_logger(__name__)


async def _ensure_topics(settings: Settings, service: str, topics: Sequence[str] = ()) -> None:
    """The service's topics exist, with their retention configs (FastStream's have none)."""
    wanted = [settings.dossier_topic, settings.dlq_topic(service), *topics]
    await ensure_topics(settings, list(dict.fromkeys(wanted)))


@asynccontextmanager
async def _producer(settings: Settings, service: str) -> AsyncIterator[AIOKafkaProducer]:
    """The service's topics exist and a producer is started; it is stopped on exit."""
    await _ensure_topics(settings, service)
    producer = await start_producer(settings)
    try:
        yield producer
    finally:
        await producer.stop()


def relay_broker(
    settings: Settings, routes: Sequence[Route]
) -> tuple[KafkaBroker, dict[str, FastStreamTopic]]:
    """A FastStream broker with a publisher declared per route, by topic; not connected.

    Each publisher is described for the AsyncAPI document (``devtools/asyncapi.py``):
    its title, the route's description and, as its message schema, the contract events
    the route publishes.
    """
    broker = kafka_broker(
        client_options(settings), enable_idempotence=settings.kafka_idempotent_producer
    )
    publishers = {
        r.topic: FastStreamTopic(
            broker.publisher(
                r.topic,
                title=f"{r.name.replace('.', '-')}-relay",
                description=r.description or None,
                schema=one_of(r.events) if r.events else None,
            ),
            r.topic,
        )
        for r in routes
    }
    return broker, publishers


@asynccontextmanager
async def _publishers(
    settings: Settings, service: str, routes: Sequence[Route]
) -> AsyncIterator[dict[str, FastStreamTopic]]:
    """The relays' topics as publishers declared on a FastStream broker of the service's
    relay worker, started; stopped on exit."""
    await _ensure_topics(settings, service, [r.topic for r in routes])
    broker, publishers = relay_broker(settings, routes)
    try:
        await broker.start()
        yield publishers
    finally:
        await broker.stop()


@dataclass(frozen=True)
class Route:
    """One relay of a store: its name (the events' ``producer``), topic and mapping; the
    contract events it publishes and what it is, as the AsyncAPI document states them."""

    name: str
    topic: str
    to_contract: ToContract
    events: tuple[type[Envelope], ...] = ()
    description: str = ""


class RelayWorker:
    """Owns the producer and the relays of one service's store; restarts them after errors.

    A service publishes its events to ``dossier-events``; one whose store feeds several
    topics (interagency) passes a ``Route`` per topic: each relay keeps a position and a
    lease of its own, so no topic waits for another.

    ``faults`` (crash tests only: ``faults.py``) go to each relay it starts; the
    process's composition root (``ops/serve.py``) sets them, when a test asks for them,
    on the worker the service's root built.

    The relay lag is measured on each scrape while the worker runs: its refresher is
    registered when ``run`` starts and dropped when it ends (the app's lifespan cancels
    it on stop), so apps built and stopped many times in one process leave none behind.
    """

    def __init__(
        self,
        settings: Settings,
        app: Application[UUID],
        store: Store,
        name: str,
        to_contract: ToContract,
        routes: Sequence[Route] = (),
        faults: Faults | None = None,
    ) -> None:
        self.settings, self.app, self.store = settings, app, store
        self.name = name
        self.routes = list(routes) or [
            Route(
                name,
                settings.dossier_topic,
                to_contract,
                EVENTS_OF.get(name, ()),
                f"{name}'s outbox relay publishes its events in the order of its store, at "
                "least once: a repeat after a crash has the same `event_id` and `position`",
            )
        ]
        self.relay: OutboxRelay | None = None
        self.connected = False
        self.faults = faults

    def _measure_lag(self) -> None:
        if self.relay is not None:
            metrics.RELAY_LAG.labels(self.name).set(self.relay.lag())

    async def run(self) -> None:
        if not self.settings.relay_enabled:
            log.warning("relay disabled by settings: events stay in the store unpublished")
            return
        with metrics.on_scrape(self._measure_lag):
            await _forever(self._run_once, self)

    def declared(self) -> KafkaBroker:
        """The broker its relays publish through, with their publishers declared and
        nothing connected: what the AsyncAPI document is generated from."""
        return relay_broker(self.settings, self.routes)[0]

    async def _run_once(self) -> None:
        s = self.settings
        topics = [r.topic for r in self.routes]
        async with _publishers(s, self.name, self.routes) as publishers:
            relays = [
                OutboxRelay(
                    self.app,
                    self.store,
                    publishers[r.topic],
                    name=r.name,
                    topic=r.topic,
                    to_contract=r.to_contract,
                    batch_size=s.relay_batch_size,
                    idle_seconds=s.relay_idle_seconds,
                    faults=self.faults,
                )
                for r in self.routes
            ]
            self.relay = relays[0]  # the first route's lag is the worker's metric
            self.connected = True
            log.info("relay publishing", topics=topics)
            try:
                # A failing relay cancels the others; the worker then restarts them all.
                async with asyncio.TaskGroup() as group:
                    for relay in relays:
                        group.create_task(relay.run())
            finally:
                self.connected = False

    def problems(self) -> list[str]:
        if self.connected or not self.settings.relay_enabled:
            return []
        return ["not connected to the Kafka broker yet"]


class ConsumerWorker:
    """Runs a tracked consumer of ``dossier-events`` for a service; restarts it after errors."""

    def __init__(
        self,
        settings: Settings,
        app: Application[UUID],
        store: Store,
        name: str,
        handlers: Handlers,
    ) -> None:
        self.settings, self.app, self.store, self.name = settings, app, store, name
        self.handlers = handlers
        self.consumer: TrackedConsumer | None = None
        self.running = False

    async def run(self) -> None:
        await _forever(self._run_once, self)

    def _tracked(self, dlq_producer: AIOKafkaProducer) -> TrackedConsumer:
        s = self.settings
        return TrackedConsumer(
            name=self.name,
            topics=[s.dossier_topic],
            app=self.app,
            store=self.store,
            handlers=self.handlers,
            bootstrap_servers=s.bootstrap_servers,
            client_options=client_options(s),
            dlq_producer=dlq_producer,
            dlq_topic=s.dlq_topic(self.name),
            group_id=f"{s.consumer_group_prefix}{self.name}",
        )

    def declared(self) -> KafkaBroker:
        """The broker its consumer runs on, with the subscriber declared and nothing
        connected: what the AsyncAPI document is generated from. That consumer never runs,
        so it gets no dead-letter producer."""
        return self._tracked(_NeverStarted()).broker()

    async def _run_once(self) -> None:
        async with _producer(self.settings, self.name) as producer:
            self.consumer = self._tracked(producer)
            self.running = True
            try:
                await self.consumer.run()
            finally:
                self.running = False

    def problems(self) -> list[str]:
        return [] if self.running else ["consumer not connected to the Kafka broker yet"]


class _NeverStarted:
    """The dead-letter producer of a consumer declared for the document, never run."""

    async def send_and_wait(self, *_: Any, **__: Any) -> None:
        raise RuntimeError("a consumer declared for the AsyncAPI document does not run")


class PeriodicWorker:
    """Calls a blocking ``job`` every ``seconds`` in a thread (the workflow's clock,
    notify's delivery).

    A cancelled task cannot stop the thread it waits on, and the process waits for that
    thread at exit: ``stop``, if given, is called on cancellation to tell the job to end
    soon (notify's delivery starts no new send).
    """

    def __init__(
        self,
        name: str,
        seconds: float,
        job: Callable[[], int],
        stop: Callable[[], None] | None = None,
    ) -> None:
        self.name, self.seconds, self.job, self.stop = name, seconds, job, stop

    async def run(self) -> None:
        try:
            while True:
                try:
                    changed = await asyncio.to_thread(self.job)
                    if changed:
                        log.info("periodic job changed state", job=self.name, changed=changed)
                except Exception as error:  # logged and tried again next period, never silent
                    log.error("periodic job failed", job=self.name, error=repr(error))
                await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            if self.stop is not None:
                self.stop()
            raise

    def problems(self) -> list[str]:
        return []


async def _forever(once: Callable[[], Awaitable[None]], worker: Any) -> None:
    delay = 0.5
    while True:
        try:
            await once()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # broker away or store error: retry, never give up
            log.warning(
                "worker stopped; retrying",
                worker=type(worker).__name__,
                error=repr(error),
                retry_in=delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


Worker = RelayWorker | ConsumerWorker | PeriodicWorker


def lifespan_with(
    *workers: Worker,
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
