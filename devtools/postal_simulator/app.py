"""The postal simulator: its orders, its journal, its callbacks and its HTTP routes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from motcua.core.signatures import BadSignature
from services.postal.operator import (
    POSTAL_SIGNATURE,
    ShipmentOrder,
    TrackingCallback,
    TrackingStatus,
)

log = structlog.get_logger(__name__)
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)  # then every 5 s until acknowledged


class Advance(BaseModel):
    status: TrackingStatus
    received_by: str = ""
    reason: str = ""


class Config(BaseModel):
    duplicates: int = Field(default=0, ge=0, le=10)


class PostalSim:
    def __init__(self, secret: str, folder: Path, *, duplicates: int = 0, tolerance: float = 300):
        self.secret, self.tolerance = secret, tolerance
        self.config = Config(duplicates=duplicates)
        self.orders: dict[str, dict[str, Any]] = {}  # order id -> order, tracking, callbacks
        self.by_tracking: dict[str, str] = {}
        folder.mkdir(parents=True, exist_ok=True)
        self.journal = folder / "journal.jsonl"
        if self.journal.exists():
            for line in self.journal.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self._apply(json.loads(line))

    def _write(self, entry: dict[str, Any]) -> None:
        with self.journal.open("a", encoding="utf-8") as journal:
            journal.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        self._apply(entry)

    def _apply(self, entry: dict[str, Any]) -> None:
        if entry["kind"] == "order":
            order = entry["order"]
            self.orders[order["order_id"]] = {
                "order": order,
                "tracking_number": entry["tracking_number"],
                "callbacks": [],
            }
            self.by_tracking[entry["tracking_number"]] = order["order_id"]
        else:
            self.orders[entry["callback"]["order_id"]]["callbacks"].append(entry["callback"])

    def take(self, order: ShipmentOrder) -> str:
        """The order's tracking number; an order seen before keeps its number."""
        if order.order_id in self.orders:
            return str(self.orders[order.order_id]["tracking_number"])
        tracking = f"EB{uuid.uuid4().int % 10**9:09d}VN"
        self._write(
            {"kind": "order", "order": order.model_dump(mode="json"), "tracking_number": tracking}
        )
        return tracking

    def advance(self, tracking: str, step: Advance) -> dict[str, Any]:
        order_id = self.by_tracking[tracking]
        callback = TrackingCallback(
            event_id=uuid.uuid4().hex,
            order_id=order_id,
            tracking_number=tracking,
            status=step.status,
            at=datetime.now(UTC),
            received_by=step.received_by,
            reason=step.reason,
        ).model_dump(mode="json")
        self._write({"kind": "callback", "callback": callback})
        return callback

    def callback(self, tracking: str, event_id: str) -> dict[str, Any]:
        shipment = self.orders[self.by_tracking[tracking]]
        for callback in shipment["callbacks"]:
            if callback["event_id"] == event_id:
                return dict(callback)
        raise KeyError(event_id)

    def url_of(self, tracking: str) -> str:
        return str(self.orders[self.by_tracking[tracking]]["order"]["callback_url"])


class Sender:
    """Sends callbacks in the background, each until the receiver acknowledges it."""

    def __init__(self, sim: PostalSim) -> None:
        self.sim, self.tasks = sim, set[asyncio.Task[None]]()
        self.client = httpx.AsyncClient(timeout=10)
        self.acknowledged: list[str] = []

    def send(self, url: str, callback: dict[str, Any], copies: int = 1) -> None:
        for _ in range(copies):
            task = asyncio.create_task(self._deliver(url, callback))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _deliver(self, url: str, callback: dict[str, Any]) -> None:
        body = json.dumps(callback).encode()
        for attempt in range(10_000):
            headers = {"Content-Type": "application/json"}
            headers |= POSTAL_SIGNATURE.headers(self.sim.secret, body)  # signed when sent
            try:
                response = await self.client.post(url, content=body, headers=headers)
                if response.status_code < 300:
                    self.acknowledged.append(callback["event_id"])
                    return
                log.warning(
                    "callback refused", status=response.status_code, text=response.text[:200]
                )
            except httpx.HTTPError as error:
                log.warning("callback not delivered", error=repr(error))
            await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.client.aclose()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(sim: PostalSim) -> FastAPI:
    sender = Sender(sim)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await sender.close()

    app = FastAPI(title="motcua postal operator simulator", lifespan=lifespan)

    @app.post("/v1/shipments")
    async def order(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            POSTAL_SIGNATURE.verify(sim.secret, request.headers, body, tolerance=sim.tolerance)
            shipment = ShipmentOrder.model_validate_json(body)
        except BadSignature as error:
            return _error(401, str(error))
        except ValidationError as error:
            return _error(422, str(error))
        tracking = sim.take(shipment)
        return JSONResponse({"order_id": shipment.order_id, "tracking_number": tracking})

    @app.post("/sim/shipments/{tracking}/advance")
    async def advance(tracking: str, step: Advance) -> JSONResponse:
        if tracking not in sim.by_tracking:
            return _error(404, f"no shipment {tracking}")
        callback = sim.advance(tracking, step)
        sender.send(sim.url_of(tracking), callback, 1 + sim.config.duplicates)
        return JSONResponse(callback)

    @app.post("/sim/shipments/{tracking}/replay/{event_id}")
    async def replay(tracking: str, event_id: str) -> JSONResponse:
        try:
            callback = sim.callback(tracking, event_id)
        except KeyError:
            return _error(404, f"no callback {event_id} of shipment {tracking}")
        sender.send(sim.url_of(tracking), callback)
        return JSONResponse(callback)

    @app.get("/sim/shipments")
    async def shipments() -> dict[str, Any]:
        return {"shipments": list(sim.orders.values()), "acknowledged": sender.acknowledged}

    @app.post("/sim/config")
    async def config(update: Config) -> Config:
        sim.config = update
        return sim.config

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
