"""What the routes of every intake feature share: the application as a dependency, and
the public base URL that receipts link to."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.intake.application import IntakeApplication


def get_application(request: Request) -> IntakeApplication:
    app: IntakeApplication = request.app.state.intake
    return app


IntakeDep = Annotated[IntakeApplication, Depends(get_application)]


def base_url(request: Request) -> str:
    configured: str = request.app.state.settings.public_base_url
    return configured.rstrip("/")


def province(request: Request) -> str:
    """The province's name, as the receipt prints it."""
    name: str = request.app.state.settings.province
    return name
