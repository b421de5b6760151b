"""Composition root of the portal sync service: builds everything, nothing at import time.

It consumes ``dossier-events`` and sends each dossier's record to the National Public
Service Portal; it publishes nothing to Kafka.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from motcua.core import metrics
from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from motcua.runtime.workers import ConsumerWorker, PeriodicWorker, lifespan_with
from motcua.web.http import TELEMETRY, install_common
from services.portal.adapter import load_portal
from services.portal.api import router
from services.portal.application import PortalApplication
from services.portal.settings import PortalSettings

PRODUCER = "portal"


def build_application(
    settings: Settings, portal: PortalSettings | None = None
) -> PortalApplication:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    portal = portal or PortalSettings()
    return PortalApplication(
        store_env(settings.database_url, str(settings.var_dir), PRODUCER),
        settings=portal,
        portal=load_portal(portal),
        result_base_url=settings.workflow_public_url,
    )


def to_contract(app: PortalApplication) -> None:
    """Nothing of this service goes to Kafka: its output is the portal's records."""
    return None


def create_app(settings: Settings) -> FastAPI:
    """The portal sync's HTTP app; its workers consume dossier-events and send records."""
    portal = build_application(settings)
    consumer = ConsumerWorker(settings, portal, portal.store, PRODUCER, portal.handlers())
    pusher = PeriodicWorker(
        "portal-sync", portal.settings.portal_poll_seconds, portal.push_due, portal.stop_pushing
    )
    app = FastAPI(
        telemetry=TELEMETRY,
        title="motcua portal",
        version="1.0",
        description=(
            "Synchronisation with the National Public Service Portal (Decision "
            "31/2021/QĐ-TTg art. 30): each dossier's record, its progress and result, "
            "sent in order and once per version; operators see the lag and failures, "
            "resend, and reconcile the province against the portal."
        ),
        lifespan=_with_gauges(portal, lifespan_with(consumer, pusher)),
    )
    app.state.settings = settings
    app.state.workers = (consumer, pusher)
    app.state.portal = portal
    install_common(app, ready=consumer.problems)
    app.include_router(router)
    return app


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _with_gauges(portal: PortalApplication, workers: Lifespan) -> Lifespan:
    """The workers' lifespan, with the sync's gauges refreshed before each scrape."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with metrics.on_scrape(portal.measure):
            async with workers(app):
                yield

    return lifespan
