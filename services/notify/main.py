"""Composition root of the notify service: builds everything, nothing at import time."""

from __future__ import annotations

from fastapi import FastAPI

from motcua.core.clock import make_clock
from motcua.runtime.mapping import ToContract
from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from motcua.runtime.workers import ConsumerWorker, PeriodicWorker, RelayWorker, lifespan_with
from motcua.web.http import TELEMETRY, install_common
from services.catalogue.procedures import load_catalogue
from services.notify.api import router
from services.notify.application import NotifyApplication
from services.notify.channels import Channel, EmailChannel, HttpChannel
from services.notify.rules import Rules
from services.notify.settings import NotifySettings
from services.notify.to_contract import PRODUCER, NotifyPublisher


def build_application(
    settings: Settings, notify: NotifySettings | None = None
) -> NotifyApplication:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    notify = notify or NotifySettings()
    channels: dict[str, Channel] = {
        "email": EmailChannel(notify),
        "sms": HttpChannel(notify.sms_url, notify.sms_token),
    }
    if notify.webhook_url:
        channels["webhook"] = HttpChannel(notify.webhook_url)
    return NotifyApplication(
        store_env(settings.database_url, str(settings.var_dir), PRODUCER),
        settings=notify,
        channels=channels,
        catalogue=load_catalogue(),
        public_base_url=settings.public_base_url,
        workflow_public_url=settings.workflow_public_url,
        clock=make_clock(settings.clock_file),
        rules=Rules.from_file(notify.notify_rules_file),
    )


def to_contract(app: NotifyApplication) -> ToContract:
    """How this service's stored events become events on ``dossier-events``."""
    return NotifyPublisher(app)


def create_app(settings: Settings) -> FastAPI:
    """The notify HTTP app; plans notices from dossier-events and delivers them."""
    notify = build_application(settings, NotifySettings())
    relay = RelayWorker(settings, notify, notify.store, PRODUCER, NotifyPublisher(notify))
    consumer = ConsumerWorker(settings, notify, notify.store, PRODUCER, notify.handlers())
    sender = PeriodicWorker(
        "deliver", notify.settings.notify_poll_seconds, notify.deliver_due, notify.stop_delivering
    )
    app = FastAPI(
        telemetry=TELEMETRY,
        title="motcua notify",
        version="1.0",
        description=(
            "Automatic notices to applicants (portal inbox, e-mail, SMS) on receipt, "
            "supplement, payment, result, refusal and delay; operators' view of failures. "
            "Authenticate with `Authorization: Bearer <JWT>` (dev tokens: `motcua token`)."
        ),
        lifespan=lifespan_with(relay, consumer, sender),
    )
    app.state.settings = settings
    app.state.workers = (relay, consumer, sender)
    app.state.notify = notify
    install_common(app, ready=lambda: relay.problems() + consumer.problems())
    app.include_router(router)
    return app
