"""Postal's HTTP API: the operator's signed callbacks, and the shipments for officers."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Request

from motcua.web.auth import CallerDep
from motcua.web.http import ERROR_RESPONSES, ErrorBody, Limit, Offset
from services.postal.application import PostalApplication
from services.postal.schemas import CallbackAnswer, ShipmentHistory, ShipmentRow


def get_application(request: Request) -> PostalApplication:
    app: PostalApplication = request.app.state.postal
    return app


PostalDep = Annotated[PostalApplication, Depends(get_application)]
router = APIRouter(prefix="/v1/postal", responses=ERROR_RESPONSES, tags=["postal"])


@router.post(
    "/callback",
    summary="The postal operator's signed tracking callback",
    responses={401: {"model": ErrorBody, "description": "Forged or stale signature"}},
)
async def callback(request: Request, postal: PostalDep) -> CallbackAnswer:
    """Signed with HMAC-SHA256 (see ``services/postal/operator.py``); repeats are safe."""
    body = await request.body()
    outcome = await to_thread.run_sync(postal.callback, request.headers, body)
    return CallbackAnswer(outcome=outcome)


@router.get("/shipments")
def shipments(
    postal: PostalDep,
    caller: CallerDep,
    status: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[ShipmentRow]:
    """Results sent by post, by status (``requested`` ones wait for the operator)."""
    return [ShipmentRow.model_validate(r) for r in postal.shipments(caller, status, limit, offset)]


@router.get("/shipments/{code}")
def shipment(postal: PostalDep, caller: CallerDep, code: str) -> ShipmentHistory:
    """One dossier's shipment with each step the operator reported."""
    return ShipmentHistory.model_validate(postal.history(caller, code))
