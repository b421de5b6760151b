"""Reading dossiers: the one-stop queue, the applicant's own list, the lookup by code or
id, and the prefilled form (tag ``dossiers``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from motcua.web.auth import CallerDep, OptionalCallerDep
from motcua.web.http import Limit, Offset
from services.intake.routes.common import IntakeDep
from services.intake.schemas import DossierRow, DossierView

router = APIRouter()


@router.get("/dossiers", tags=["dossiers"])
def agency_queue(
    intake: IntakeDep,
    caller: CallerDep,
    status: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[DossierRow]:
    """The one-stop queue of the officer's agency, oldest first; filter by status."""
    rows = intake.list_for_agency(caller, status, limit, offset)
    return [DossierRow.model_validate(r) for r in rows]


@router.get("/me/dossiers", tags=["dossiers"])
def my_dossiers(
    intake: IntakeDep, caller: CallerDep, limit: Limit = 50, offset: Offset = 0
) -> list[DossierRow]:
    """The caller's own dossiers, newest first."""
    caller.require("citizen")
    return [
        DossierRow.model_validate(r) for r in intake.list_for_applicant(caller.sub, limit, offset)
    ]


@router.get("/dossiers/{ref}", tags=["dossiers"])
def get_dossier(
    intake: IntakeDep,
    caller: OptionalCallerDep,
    ref: str,
    x_id_number: Annotated[
        str | None, Header(description="Without a token: the applicant's ID number")
    ] = None,
) -> DossierView:
    """Status and timeline by code or id; for the applicant, the agency, or code + ID number."""
    return DossierView.model_validate(intake.lookup(caller, ref, x_id_number))


@router.get("/prefill", tags=["dossiers"])
def prefill(
    intake: IntakeDep, caller: CallerDep, procedure: Annotated[str, Query()]
) -> dict[str, dict[str, Any]]:
    """Values for the procedure's form from the account and the caller's earlier dossiers."""
    return intake.prefill(caller, procedure)
