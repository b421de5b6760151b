"""Intake's HTTP API: catalogue, attachments, submission, lookup, one-stop actions with
the receipt, the applicant's rating and feedback with the agency's answers, the working
calendar the appointments are counted in, and the directory of agencies and officers.

The routes are in ``routes/``, one module per feature as in the application; this
router puts them under ``/v1`` with the error responses every operation declares.
"""

from __future__ import annotations

from fastapi import APIRouter

from motcua.web.http import ERROR_RESPONSES
from services.intake.routes import (
    acceptance,
    calendar,
    catalogue,
    directory,
    lookup,
    ratings,
    send_back,
    submission,
)

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
for feature in (catalogue, submission, lookup, acceptance, send_back, ratings, calendar, directory):
    router.include_router(feature.router)
