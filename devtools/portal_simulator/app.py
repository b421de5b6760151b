"""The portal simulator: its state, its journal and its HTTP routes."""

from __future__ import annotations

import asyncio
import hmac
import json
from pathlib import Path
from typing import Any, Literal

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

log = structlog.get_logger(__name__)

Mode = Literal["ok", "fail", "slow", "twice"]


class SimConfig(BaseModel):
    mode: Mode = "ok"
    delay_seconds: float = Field(default=0.0, ge=0, le=600)


class PortalSim:
    """What the portal holds: the latest record per code, and every call's key."""

    def __init__(self, api_key: str, folder: Path, config: SimConfig | None = None) -> None:
        self.api_key, self.config = api_key, config or SimConfig()
        self.records: dict[str, dict[str, Any]] = {}
        self.applied: dict[str, list[int]] = {}  # code -> versions applied, in order
        self.received: dict[str, int] = {}  # idempotency key -> calls with it
        self.keys: set[str] = set()  # keys applied or ignored as stale
        self.arrived = 0  # calls with the right key, counted as they arrive (before a delay)
        folder.mkdir(parents=True, exist_ok=True)
        self.journal = folder / "journal.jsonl"
        if self.journal.exists():
            for line in self.journal.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self._apply(json.loads(line))

    def allowed(self, key: str | None) -> bool:
        return key is not None and hmac.compare_digest(key, self.api_key)

    def take(self, key: str, record: dict[str, Any]) -> str:
        """Apply one call; returns what happened: applied, duplicate or stale."""
        self.received[key] = self.received.get(key, 0) + 1
        if key in self.keys:
            return "duplicate"
        code, version = str(record["MaHoSo"]), int(record["PhienBan"])
        held = self.records.get(code)
        entry = {"key": key, "record": record, "stale": bool(held and held["PhienBan"] > version)}
        with self.journal.open("a", encoding="utf-8") as journal:
            journal.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._apply(entry)
        return "stale" if entry["stale"] else "applied"

    def _apply(self, entry: dict[str, Any]) -> None:
        self.keys.add(entry["key"])
        if entry["stale"]:
            return
        record = entry["record"]
        self.records[record["MaHoSo"]] = record
        self.applied.setdefault(record["MaHoSo"], []).append(int(record["PhienBan"]))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(sim: PortalSim) -> FastAPI:
    app = FastAPI(title="National Public Service Portal simulator")

    @app.post("/DongBoHoSoMC")
    async def sync(request: Request) -> JSONResponse:
        if not sim.allowed(request.headers.get("X-Api-Key")):
            return _error(401, "missing or wrong X-Api-Key")
        sim.arrived += 1
        key = request.headers.get("Idempotency-Key")
        if not key:
            return _error(400, "an Idempotency-Key header is required")
        try:
            record = json.loads(await request.body())
            str(record["MaHoSo"]), int(record["PhienBan"])
        except (ValueError, KeyError, TypeError) as error:
            return _error(422, f"not a dossier record with MaHoSo and PhienBan: {error!r}")
        config = sim.config
        if config.mode == "fail":
            return _error(503, "the portal is unavailable (simulated)")
        if config.mode == "slow":
            await asyncio.sleep(config.delay_seconds)
        outcome = sim.take(key, record)
        if config.mode == "twice" and sim.received[key] == 1:
            return _error(503, "applied, but the answer was lost (simulated)")
        return JSONResponse({"result": outcome, "MaHoSo": record["MaHoSo"]})

    @app.get("/TraCuuHoSo/{code}")
    async def lookup(code: str, request: Request) -> JSONResponse:
        if not sim.allowed(request.headers.get("X-Api-Key")):
            return _error(401, "missing or wrong X-Api-Key")
        record = sim.records.get(code)
        if record is None:
            return _error(404, f"no dossier {code} at the portal")
        return JSONResponse(record)

    @app.get("/sim/records")
    async def records() -> dict[str, dict[str, Any]]:
        return sim.records

    @app.get("/sim/calls")
    async def calls() -> dict[str, Any]:
        return {"arrived": sim.arrived, "received": sim.received, "applied": sim.applied}

    @app.get("/sim/config")
    async def get_config() -> SimConfig:
        return sim.config

    @app.post("/sim/config")
    async def set_config(config: SimConfig) -> SimConfig:
        sim.config = config
        log.info("behaviour changed", mode=config.mode, delay_seconds=config.delay_seconds)
        return sim.config

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
