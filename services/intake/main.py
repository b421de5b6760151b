"""Composition root of the intake service: builds everything, nothing at import time."""

from __future__ import annotations

from fastapi import FastAPI

from motcua.core.clock import make_clock
from motcua.runtime.mapping import ToContract
from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from motcua.runtime.workers import ConsumerWorker, RelayWorker, lifespan_with
from motcua.web.http import TELEMETRY, install_common
from services.catalogue.procedures import load_catalogue
from services.intake.api import router
from services.intake.application import IntakeApplication
from services.intake.routes import lookup_page
from services.intake.to_contract import PRODUCER, IntakePublisher


def build_application(settings: Settings) -> IntakeApplication:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    env = store_env(settings.database_url, str(settings.var_dir), PRODUCER)
    return IntakeApplication(env, catalogue=load_catalogue(), clock=make_clock(settings.clock_file))


def to_contract(app: IntakeApplication) -> ToContract:
    """How this service's stored events become events on ``dossier-events``."""
    return IntakePublisher(app)


def create_app(settings: Settings) -> FastAPI:
    """The intake HTTP app with its outbox relay running in the background."""
    intake = build_application(settings)
    relay = RelayWorker(settings, intake, intake.store, PRODUCER, IntakePublisher(intake))
    consumer = ConsumerWorker(settings, intake, intake.store, PRODUCER, intake.progress.handlers())
    app = FastAPI(
        telemetry=TELEMETRY,
        title="motcua intake",
        version="1.0",
        description=(
            "Procedure catalogue, dossier submission (online, counter, post), one-stop "
            "acceptance with the dossier code and appointment date, receipts and lookup. "
            "Authenticate with `Authorization: Bearer <JWT>` (dev tokens: `motcua token`)."
        ),
        lifespan=lifespan_with(relay, consumer),
    )
    app.state.settings = settings
    app.state.workers = (relay, consumer)
    app.state.intake = intake
    app.state.relay = relay
    install_common(app, ready=lambda: relay.problems() + consumer.problems())
    app.include_router(router)
    app.include_router(lookup_page.router)
    return app
