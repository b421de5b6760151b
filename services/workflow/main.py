"""Composition root of the workflow service: builds everything, nothing at import time."""

from __future__ import annotations

from fastapi import FastAPI

from motcua.core.clock import make_clock
from motcua.runtime.mapping import ToContract
from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from motcua.runtime.workers import ConsumerWorker, PeriodicWorker, RelayWorker, lifespan_with
from motcua.web.http import TELEMETRY, install_common
from services.catalogue.procedures import load_catalogue
from services.workflow.api import router
from services.workflow.application import WorkflowApplication
from services.workflow.signing import ResultSigning, signing_problem
from services.workflow.to_contract import PRODUCER, WorkflowPublisher


def build_application(settings: Settings) -> WorkflowApplication:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    env = store_env(settings.database_url, str(settings.var_dir), PRODUCER)
    workflow = WorkflowApplication(
        env, catalogue=load_catalogue(), clock=make_clock(settings.clock_file)
    )
    workflow.signing = ResultSigning.from_settings(settings)  # the agencies' keys (O-5)
    return workflow


def start_problem(settings: Settings) -> str | None:
    """Outside dev mode, the agencies' signing keys must be configured (``signing.py``)."""
    return signing_problem(settings)


def to_contract(app: WorkflowApplication) -> ToContract:
    """How this service's stored events become events on ``dossier-events``."""
    return WorkflowPublisher(app)


def create_app(settings: Settings) -> FastAPI:
    """The workflow HTTP app; consumes dossier-events, publishes its own, runs the clock."""
    workflow = build_application(settings)
    relay = RelayWorker(settings, workflow, workflow.store, PRODUCER, WorkflowPublisher(workflow))
    consumer = ConsumerWorker(settings, workflow, workflow.store, PRODUCER, workflow.handlers())
    clock = PeriodicWorker("deadlines", settings.overdue_check_seconds, workflow.check_deadlines)
    app = FastAPI(
        telemetry=TELEMETRY,
        title="motcua workflow",
        version="1.0",
        description=(
            "The electronic process of each received dossier across agencies: the agency "
            "queue, officer actions (claim, complete, hand over, supplement, approve, "
            "reject, result, apology), deadlines in working days, and the timeline. "
            "Authenticate with `Authorization: Bearer <JWT>` (dev tokens: `motcua token`)."
        ),
        lifespan=lifespan_with(relay, consumer, clock),
    )
    app.state.settings = settings
    app.state.workers = (relay, consumer, clock)
    app.state.workflow = workflow
    install_common(app, ready=lambda: relay.problems() + consumer.problems())
    app.include_router(router)
    return app
