"""Composition root of the interagency service: builds everything, nothing at import time.

It consumes ``dossier-events`` and publishes the curated feeds for ministries
(``interagency-events`` and ``interagency-events.<ministry>``); it publishes nothing to
``dossier-events``. An invalid ministries file stops it at start with the reason.
"""

from __future__ import annotations

from fastapi import FastAPI

from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from motcua.runtime.workers import ConsumerWorker, RelayWorker, lifespan_with
from motcua.web.http import TELEMETRY, install_common
from services.catalogue.procedures import load_catalogue
from services.interagency.api import router
from services.interagency.application import InteragencyApplication
from services.interagency.curation import PRODUCER
from services.interagency.feeds import feeds_of, routes
from services.interagency.ministries import load_ministries
from services.interagency.settings import InteragencySettings


def build_application(
    settings: Settings, interagency: InteragencySettings | None = None
) -> InteragencyApplication:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    catalogue = load_catalogue()
    ministries_file = (interagency or InteragencySettings()).interagency_ministries_file
    return InteragencyApplication(
        store_env(settings.database_url, str(settings.var_dir), PRODUCER),
        catalogue=catalogue,
        ministries=load_ministries(ministries_file, catalogue),
    )


def to_contract(app: InteragencyApplication) -> None:
    """Nothing of this service goes to ``dossier-events``: only its inter-agency feeds."""
    return None


def create_app(settings: Settings) -> FastAPI:
    """The interagency HTTP app; its workers consume dossier-events and publish the feeds."""
    interagency = build_application(settings)
    feeds = feeds_of(settings, tuple(interagency.ministries.values()))
    relay = RelayWorker(
        settings, interagency, interagency.store, PRODUCER, feeds[0].to_contract, routes(feeds)
    )
    consumer = ConsumerWorker(
        settings, interagency, interagency.store, PRODUCER, interagency.handlers()
    )
    app = FastAPI(
        telemetry=TELEMETRY,
        title="motcua interagency",
        version="1.0",
        description=(
            "Curated feeds of dossier progress for ministry systems: `interagency-events` "
            "(no personal data) and `interagency-events.<ministry>` (plus the fields the "
            "ministry is configured to receive). This API lists the feeds and their "
            "progress; the events themselves are read from Kafka "
            "(docs/ministry-subscription.md)."
        ),
        lifespan=lifespan_with(relay, consumer),
    )
    app.state.settings = settings
    app.state.workers = (relay, consumer)
    app.state.interagency = interagency
    app.state.feeds = feeds
    install_common(app, ready=lambda: relay.problems() + consumer.problems())
    app.include_router(router)
    return app
