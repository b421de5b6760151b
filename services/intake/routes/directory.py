"""The directory of agencies and officers (tag ``directory``): which officer holds which
step role at which agency, as an administrator enters it. Admin only, reading too: each
change is an event (``motcua audit directory`` lists them), and workflow assigns steps
only to the officers it lists with the step's role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from motcua.web.auth import CallerDep
from motcua.web.http import CorrelationIdDep
from services.intake.routes.common import IntakeDep
from services.intake.schemas import (
    AgencyIn,
    DirectoryAgencies,
    DirectoryChanged,
    DirectoryOfficers,
    OfficerIn,
)

router = APIRouter(prefix="/directory", tags=["directory"])

AgencyCode = Annotated[
    str, Path(max_length=40, description="QCVN 102:2016 code, e.g. 000.00.22.H23")
]
Subject = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        pattern=r"^[^\s/]+$",
        description="The officer's subject at the identity provider (the token's sub)",
    ),
]


@router.get("/agencies")
def list_agencies(intake: IntakeDep, caller: CallerDep) -> DirectoryAgencies:
    """The agencies in the directory, with who entered each, when and why (admin)."""
    return DirectoryAgencies.model_validate(intake.directory_agencies(caller))


@router.put("/agencies/{code}")
def register_agency(
    intake: IntakeDep, caller: CallerDep, code: AgencyCode, body: AgencyIn, cid: CorrelationIdDep
) -> DirectoryChanged:
    """Enter an agency, or correct its name (admin; 422 for a code not of the QCVN
    102:2016 form). The same name again changes nothing."""
    version = intake.register_agency(caller, code, body.name, body.reason, correlation_id=cid)
    return DirectoryChanged(version=version)


@router.get("/officers")
def list_officers(
    intake: IntakeDep,
    caller: CallerDep,
    agency: Annotated[
        str | None, Query(max_length=40, description="Only the officers of this agency")
    ] = None,
) -> DirectoryOfficers:
    """The officers the directory lists, with their step roles (admin). This is the
    administrator's record only: the step roles officers' tokens carry are not in it."""
    return DirectoryOfficers.model_validate(intake.directory_officers(caller, agency))


@router.put("/officers/{sub}")
def set_officer(
    intake: IntakeDep, caller: CallerDep, sub: Subject, body: OfficerIn, cid: CorrelationIdDep
) -> DirectoryChanged:
    """List an officer at an agency with their step roles, replacing what they held
    (admin; 422 for a bad agency code, an agency not registered or an unknown role)."""
    version = intake.set_officer(
        caller, sub, body.agency, body.step_roles, body.reason, correlation_id=cid
    )
    return DirectoryChanged(version=version)


@router.delete("/officers/{sub}")
def remove_officer(
    intake: IntakeDep,
    caller: CallerDep,
    sub: Subject,
    reason: Annotated[str, Query(min_length=3, max_length=500)],
    cid: CorrelationIdDep,
) -> DirectoryChanged:
    """Remove an officer from the directory (admin; 404 if not listed): no step may be
    assigned to them any more."""
    version = intake.remove_officer(caller, sub, reason, correlation_id=cid)
    return DirectoryChanged(version=version)
