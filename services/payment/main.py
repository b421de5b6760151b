"""Composition root of the payment service: builds everything, nothing at import time."""

from __future__ import annotations

from fastapi import FastAPI

from motcua.core.clock import make_clock
from motcua.runtime.mapping import ToContract
from motcua.runtime.settings import Settings
from motcua.runtime.store import store_env
from motcua.runtime.workers import ConsumerWorker, PeriodicWorker, RelayWorker, lifespan_with
from motcua.web.http import TELEMETRY, install_common
from services.catalogue.procedures import load_catalogue
from services.payment.api import pages_router, router
from services.payment.application import PaymentApplication
from services.payment.gateway import load_gateway
from services.payment.settings import PaymentSettings
from services.payment.to_contract import PRODUCER, PaymentPublisher


def build_application(
    settings: Settings, payment: PaymentSettings | None = None
) -> PaymentApplication:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    payment = payment or PaymentSettings()
    env = store_env(settings.database_url, str(settings.var_dir), PRODUCER)
    gateway = load_gateway(
        payment.payment_gateway_class,
        payment.payment_gateway_url,
        payment.payment_gateway_secret.get_secret_value(),
        payment.payment_signature_tolerance_seconds,
    )
    return PaymentApplication(
        env,
        catalogue=load_catalogue(),
        gateway=gateway,
        settings=payment,
        public_url=payment.payment_public_url,
        clock=make_clock(settings.clock_file),
    )


def to_contract(app: PaymentApplication) -> ToContract:
    """How this service's stored events become events on ``dossier-events``."""
    return PaymentPublisher(app)


def create_app(settings: Settings) -> FastAPI:
    """The payment HTTP app; consumes dossier-events, publishes its own, runs its clock."""
    payment_settings = PaymentSettings()
    payment = build_application(settings, payment_settings)
    relay = RelayWorker(settings, payment, payment.store, PRODUCER, PaymentPublisher(payment))
    consumer = ConsumerWorker(settings, payment, payment.store, PRODUCER, payment.handlers())
    every = payment_settings.payment_check_seconds
    expiry = PeriodicWorker("attempt-expiry", every, payment.expire_attempts)
    refunds = PeriodicWorker("refunds", every, payment.send_refunds)
    app = FastAPI(
        telemetry=TELEMETRY,
        title="motcua payment",
        version="1.0",
        description=(
            "Fees of each received dossier (P-1), online payment through the gateway with "
            "signed callbacks (L-4, P-2), offline payments, refunds, electronic receipts and "
            "the daily reconciliation with the gateway's settlement file. Authenticate with "
            "`Authorization: Bearer <JWT>` (dev tokens: `motcua token`)."
        ),
        lifespan=lifespan_with(relay, consumer, expiry, refunds),
    )
    app.state.settings = settings
    app.state.workers = (relay, consumer, expiry, refunds)
    app.state.payment = payment
    install_common(app, ready=lambda: relay.problems() + consumer.problems())
    app.include_router(router)
    app.include_router(pages_router)
    return app
