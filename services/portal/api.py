"""The portal sync's HTTP API: the operators' view of what the national portal has."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from motcua.web.auth import CallerDep
from motcua.web.http import ERROR_RESPONSES, Limit, Offset
from services.portal.application import PortalApplication
from services.portal.queries import State
from services.portal.schemas import Reconciliation, RecordView, Resent, Summary


def get_application(request: Request) -> PortalApplication:
    app: PortalApplication = request.app.state.portal
    return app


PortalDep = Annotated[PortalApplication, Depends(get_application)]
router = APIRouter(prefix="/v1/portal", responses=ERROR_RESPONSES, tags=["portal"])


@router.get("/records")
def records(
    portal: PortalDep,
    caller: CallerDep,
    state: State = "all",
    code: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[RecordView]:
    """The dossiers' records for the portal: all, ``behind`` (the portal lacks the
    latest version), ``failing`` (the last send failed) or ``synced``."""
    rows = portal.records(caller, state, code, limit, offset)
    return [RecordView.model_validate(r) for r in rows]


@router.get("/summary")
def summary(portal: PortalDep, caller: CallerDep) -> Summary:
    """How many dossiers the portal has in their latest version, and the lag."""
    caller.require("admin", "inspector")
    return Summary.model_validate(portal.summary())


@router.post("/records/{code}/resend")
def resend(portal: PortalDep, caller: CallerDep, code: str) -> Resent:
    """Send the dossier's latest record again now (idempotent at the portal)."""
    return Resent(queued=portal.resend(caller, code))


@router.post("/resend-failing")
def resend_failing(portal: PortalDep, caller: CallerDep) -> Resent:
    """Send every failing dossier's latest record again now."""
    return Resent(queued=portal.resend(caller, None))


@router.get("/reconciliation")
def reconciliation(portal: PortalDep, caller: CallerDep) -> Reconciliation:
    """The province's records against the portal's: missing there, behind, different."""
    return Reconciliation.model_validate(portal.reconcile(caller))
