"""Composition root of the postal service: builds everything, nothing at import time."""

from __future__ import annotations

from fastapi import FastAPI

from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from motcua.runtime.workers import ConsumerWorker, PeriodicWorker, RelayWorker, lifespan_with
from motcua.web.http import TELEMETRY, install_common
from services.postal.api import router
from services.postal.application import PostalApplication
from services.postal.operator import load_operator
from services.postal.settings import PostalSettings
from services.postal.to_contract import PRODUCER, PostalPublisher


def build_application(
    settings: Settings, postal: PostalSettings | None = None
) -> PostalApplication:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    postal = postal or PostalSettings()
    return PostalApplication(
        store_env(settings.database_url, str(settings.var_dir), PRODUCER),
        settings=postal,
        operator=load_operator(postal),
    )


def to_contract(app: PostalApplication) -> PostalPublisher:
    """How this service's stored events become events on ``dossier-events``."""
    return PostalPublisher(app)


def create_app(settings: Settings) -> FastAPI:
    """The postal HTTP app; orders shipments for results issued by post."""
    postal = build_application(settings)
    relay = RelayWorker(settings, postal, postal.store, PRODUCER, PostalPublisher(postal))
    consumer = ConsumerWorker(settings, postal, postal.store, PRODUCER, postal.handlers())
    placer = PeriodicWorker(
        "order-shipments", postal.settings.postal_poll_seconds, postal.place_due
    )
    app = FastAPI(
        telemetry=TELEMETRY,
        title="motcua postal",
        version="1.0",
        description=(
            "Results sent to applicants by post (Circular 22/2019 art. 3): the shipment "
            "order with the postal operator, its signed tracking callbacks (picked up, "
            "delivered, returned to sender), and the shipments for officers."
        ),
        lifespan=lifespan_with(relay, consumer, placer),
    )
    app.state.settings = settings
    app.state.workers = (relay, consumer, placer)
    app.state.postal = postal
    install_common(app, ready=lambda: relay.problems() + consumer.problems())
    app.include_router(router)
    return app
