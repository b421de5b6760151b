"""The procedure catalogue as the portal searches and shows it (tag ``procedures``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.catalogue.procedures import Procedure
from services.intake.routes.common import IntakeDep
from services.intake.schemas import ProcedureSummary

router = APIRouter()


@router.get("/procedures", tags=["procedures"])
def list_procedures(
    intake: IntakeDep,
    q: Annotated[str | None, Query(description="Words; accents optional")] = None,
    sector: str | None = None,
    field: str | None = None,
    tier: Literal["province", "district", "commune"] | None = None,
    level: Annotated[int | None, Query(ge=1, le=4)] = None,
) -> list[ProcedureSummary]:
    """Search the procedure catalogue (diacritics-insensitive)."""
    found = intake.catalogue.search(q=q, sector=sector, field=field, tier=tier, level=level)
    return [
        ProcedureSummary(
            **p.model_dump(include=set(ProcedureSummary.model_fields) - {"receiving_agency"}),
            receiving_agency=p.receiving_agency.code,
        )
        for p in found
    ]


@router.get("/procedures/{procedure_id}", tags=["procedures"])
def get_procedure(intake: IntakeDep, procedure_id: str) -> Procedure:
    """One procedure with its level-1 items, form fields, documents, fees and process."""
    return intake.procedure(procedure_id)
