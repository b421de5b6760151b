"""The public lookup page (tra cứu hồ sơ): what the receipt's QR code opens.

``GET /lookup?code=…`` shows a form with the code filled in; the applicant types the ID
number and the form posts both, so the ID number never appears in a URL, a browser
history or an access log. The answer is the lookup's public part (status, return time
with its hour, timeline), or the lookup's one message for a wrong code or ID number,
never saying which of the two was wrong.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse

from motcua.core.errors import NotFound
from services.intake.lookup_page import render_lookup_page
from services.intake.routes.common import IntakeDep

router = APIRouter(tags=["lookup page"])
PAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "The page"}
}


@router.get("/lookup", response_class=HTMLResponse, responses=PAGE)
def lookup_form(
    code: Annotated[str, Query(max_length=64, description="From the receipt's QR code")] = "",
) -> HTMLResponse:
    """The lookup form, with the dossier's code filled in."""
    return HTMLResponse(render_lookup_page(code=code))


@router.post(
    "/lookup",
    response_class=HTMLResponse,
    responses={**PAGE, 404: {"content": {"text/html": {}}, "description": "No match"}},
)
def lookup_answer(
    intake: IntakeDep,
    code: Annotated[str, Form(min_length=1, max_length=64)],
    id_number: Annotated[str, Form(min_length=1, max_length=20)],
) -> HTMLResponse:
    """The dossier's status, return time and timeline, for its code and ID number."""
    code = code.strip()
    try:
        dossier = intake.lookup(None, code, id_number.strip())
    except NotFound:
        return HTMLResponse(render_lookup_page(code=code, not_found=True), status_code=404)
    return HTMLResponse(render_lookup_page(code=code, dossier=dossier))
