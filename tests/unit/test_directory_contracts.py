"""The directory's events: agency codes in the shape QCVN 102:2016 gives them, the
closed vocabulary of step roles, one stream keyed by ``DIRECTORY_ID``."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from contracts.events import EVENTS_OF, decode, encode
from contracts.intake import (
    AGENCY_CODE_PATTERN,
    DIRECTORY_ID,
    WORKING_CALENDAR_ID,
    AgencyRegistered,
    OfficerRemoved,
    OfficerRolesSet,
    StepRole,
)
from services.catalogue.procedures import DATA_FILE, STEP_ROLES


def _envelope() -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "dossier_id": DIRECTORY_ID,
        "occurred_at": datetime(2026, 3, 2, 2, tzinfo=UTC),
        "producer": "intake",
        "correlation_id": "c-1",
    }


def test_every_agency_code_of_the_catalogue_has_the_shape() -> None:
    codes = {
        agency["code"]
        for procedure in json.loads(DATA_FILE.read_text(encoding="utf-8"))["procedures"]
        for agency in [procedure["receiving_agency"]] + [s["agency"] for s in procedure["process"]]
    }

    assert {"000.00.22.H23", "001.20.51.H23", "000.00.31.H23"} <= codes
    assert all(re.fullmatch(AGENCY_CODE_PATTERN, code) for code in codes), codes


@pytest.mark.parametrize(
    "code",
    [
        "000.00.22",  # three groups
        "000.00.22.H23.1",  # five
        "00.000.22.H23",  # groups of the wrong lengths
        "000.00.22.h23",  # small letters
        "000-00-22-H23",  # not dots
        "000.00.22.H23 ",
        "H99",
        "",
    ],
)
def test_a_code_of_another_shape_is_refused(code: str) -> None:
    with pytest.raises(ValidationError):
        AgencyRegistered(
            **_envelope(),
            code=code,
            name="Sở Giao thông vận tải",
            reason="Quyết định số 1/QĐ-UBND",
            registered_by="admin-1",
            directory_version=1,
        )


def test_the_step_roles_are_those_of_the_catalogue() -> None:
    assert get_args(StepRole) == STEP_ROLES


def test_an_officers_roles_are_from_the_closed_vocabulary_and_not_empty() -> None:
    fields = {
        **_envelope(),
        "officer": "cv-1",
        "agency_code": "001.20.51.H23",
        "reason": "Quyết định số 12/QĐ-UBND",
        "set_by": "admin-1",
        "directory_version": 2,
    }
    OfficerRolesSet(**fields, step_roles=("chuyen_vien", "lanh_dao"))
    for bad in ((), ("giam_doc",)):
        with pytest.raises(ValidationError):
            OfficerRolesSet(**fields, step_roles=bad)


def test_the_directory_events_are_intakes_and_round_trip_on_their_own_stream() -> None:
    removed = OfficerRemoved(
        **_envelope(),
        officer="cv-1",
        agency_code="001.20.51.H23",
        reason="Chuyển công tác",
        removed_by="admin-1",
        directory_version=3,
    )

    assert {AgencyRegistered, OfficerRolesSet, OfficerRemoved} <= set(EVENTS_OF["intake"])
    assert decode(encode(removed)) == removed
    assert DIRECTORY_ID != WORKING_CALENDAR_ID
