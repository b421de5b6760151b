"""The simulator's HTTP app: the merchant's signed protocol, the hosted page's buttons
and the unsigned ``/sim/...`` test controls."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from devtools.gateway_simulator.callbacks import CallbackSender
from devtools.gateway_simulator.models import Adjustment, ConfigUpdate, Conflict, SimConfig
from devtools.gateway_simulator.page import render_page, return_to
from devtools.gateway_simulator.simulator import Simulator
from motcua.core.signatures import BadSignature
from services.payment.gateway import (
    Order,
    RefundOutcome,
    RefundRequest,
    settlement_csv,
)

log = structlog.get_logger(__name__)

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(text: str) -> date:
    """Only ``YYYY-MM-DD``; ``date.fromisoformat`` alone would also take ``20260302``."""
    if not _DAY.fullmatch(text):
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return date.fromisoformat(text)


def signed_path(request: Request) -> str:
    """What a GET is signed over: its path, and its query string if any."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def create_app(sim: Simulator) -> FastAPI:
    sender = CallbackSender(sim)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for callbacks, url in sim.undelivered():
            sender.schedule(callbacks, url, sim.config)
        yield
        await sender.close()

    app = FastAPI(title="motcua payment gateway simulator", lifespan=lifespan)
    _install_errors(app)
    _install_protocol(app, sim)
    _install_page(app, sim, sender)
    _install_controls(app, sim)
    return app


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(BadSignature)
    async def bad_signature(request: Request, error: BadSignature) -> JSONResponse:
        log.warning("request refused", path=request.url.path, reason=str(error))
        return _error(401, str(error))

    @app.exception_handler(Conflict)
    async def conflict(request: Request, error: Conflict) -> JSONResponse:
        return _error(409, str(error))

    @app.exception_handler(ValidationError)
    async def invalid(request: Request, error: ValidationError) -> JSONResponse:
        return _error(422, "invalid body", detail=json.loads(error.json(include_url=False)))


def _install_protocol(app: FastAPI, sim: Simulator) -> None:
    async def signed_body(request: Request) -> bytes:
        body = await request.body()
        sim.check_signature(request.headers, body)
        return body

    @app.post("/v1/orders", status_code=201)
    async def create_order(request: Request) -> dict[str, str]:
        order = Order.model_validate_json(await signed_body(request))
        return {"order_id": order.order_id, "pay_url": sim.create_order(order)}

    @app.post("/v1/refunds")
    async def refund(request: Request) -> RefundOutcome:
        return sim.refund(RefundRequest.model_validate_json(await signed_body(request)))

    @app.get("/v1/settlements/{day}")
    async def settlement(day: str, request: Request) -> Response:
        sim.check_signature(request.headers, signed_path(request).encode())
        try:
            when = parse_day(day)
        except ValueError as error:
            return _error(422, str(error))
        return Response(settlement_csv(sim.settlement(when)), media_type="text/csv")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


def _install_page(app: FastAPI, sim: Simulator, sender: CallbackSender) -> None:
    def decide(order_id: str, approve: bool) -> Response:
        decision = sim.decide(order_id, approve)
        if decision is None:
            return render_page(sim, order_id)
        transaction = decision.transaction
        if decision.new and not transaction.callbacks_dropped:
            sender.schedule(transaction.callbacks, decision.order.callback_url, decision.config)
        return RedirectResponse(return_to(decision.order, transaction.status), status_code=303)

    @app.get("/pay/{order_id}", response_class=HTMLResponse)
    async def page(order_id: str) -> HTMLResponse:
        return render_page(sim, order_id)

    # async: the callbacks are sent by tasks of this event loop
    @app.post("/pay/{order_id}/approve")
    async def approve(order_id: str) -> Response:
        return decide(order_id, approve=True)

    @app.post("/pay/{order_id}/decline")
    async def decline(order_id: str) -> Response:
        return decide(order_id, approve=False)


def _install_controls(app: FastAPI, sim: Simulator) -> None:
    @app.get("/sim/config")
    async def get_config() -> SimConfig:
        return sim.config

    @app.put("/sim/config")
    async def put_config(update: ConfigUpdate) -> SimConfig:
        return sim.update_config(update)

    @app.post("/sim/settlement-adjustments", status_code=201, response_model=None)
    async def adjust(adjustment: Adjustment) -> Adjustment | JSONResponse:
        if not sim.adjust(adjustment):
            return _error(404, f"unknown transaction {adjustment.transaction_id}")
        return adjustment

    @app.get("/sim/orders/{order_id}", response_model=None)
    async def order(order_id: str) -> dict[str, Any] | JSONResponse:
        view = sim.order_view(order_id)
        return view if view is not None else _error(404, f"unknown order {order_id}")

    @app.get("/sim/callbacks")
    async def callbacks() -> list[dict[str, Any]]:
        return sim.delivery_views()
