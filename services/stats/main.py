"""Composition root of the stats service: builds everything, nothing at import time.

Stats only consumes ``dossier-events`` and publishes nothing, so it has no relay.
"""

from __future__ import annotations

from fastapi import FastAPI

from motcua.core.clock import make_clock
from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from motcua.runtime.workers import ConsumerWorker, lifespan_with
from motcua.web.http import TELEMETRY, install_common
from services.catalogue.procedures import load_catalogue
from services.stats.api import router
from services.stats.application import StatsApplication

SERVICE = "stats"


def build_application(settings: Settings) -> StatsApplication:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    env = store_env(settings.database_url, str(settings.var_dir), SERVICE)
    clock = make_clock(settings.clock_file)
    return StatsApplication(env, clock=clock, catalogue=load_catalogue())


def to_contract(app: StatsApplication) -> None:
    """Nothing of this service goes to ``dossier-events``: it publishes nothing."""
    return None


def create_app(settings: Settings) -> FastAPI:
    """The stats HTTP app; its consumer keeps the statistics rows from dossier-events."""
    stats = build_application(settings)
    consumer = ConsumerWorker(settings, stats, stats.store, SERVICE, stats.handlers())
    app = FastAPI(
        telemetry=TELEMETRY,
        title="motcua stats",
        version="1.0",
        description=(
            "Year-to-date figures of every public service (received, resolved early, on "
            "time or late, in progress, refused, withdrawn, fees, ratings), the online "
            "share that makes a level-3 service eligible for level 4, as JSON, CSV or "
            "XLSX; the periodic reports; the service index of Decision 766/QĐ-TTg per "
            "agency; and the public page `/stats`. Public: no authentication."
        ),
        lifespan=lifespan_with(consumer),
    )
    app.state.settings = settings
    app.state.workers = (consumer,)
    app.state.stats = stats
    install_common(app, ready=consumer.problems)
    app.include_router(router)
    return app
