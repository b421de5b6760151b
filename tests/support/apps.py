"""Each service's HTTP app in-process, on its real store, and tokens for each role.

The app is built by the service's own composition root on SQLite in a directory of the
test's, so what is tested is what runs. Its background workers (relay, consumers) only
start with the ASGI lifespan, which these tests never run: no broker is needed.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from devtools.demo.client import DemoClient
from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from motcua.web.auth import issue_token
from services import registry
from services.catalogue.procedures import STEP_ROLES

AGENCY = "000.00.22.H23"


def make_app(service: str, tmp_path: Path) -> FastAPI:
    return registry.service(service).root.create_app(Settings(var_dir=tmp_path / "var"))


def roles() -> dict[str, str]:
    """A valid dev token per kind of caller; "other agency" is an officer elsewhere. The
    officers hold every step role, so that what is refused is the agency, not the role."""
    every = list(STEP_ROLES)
    return {
        "citizen": issue_token(DEV_JWT_SECRET, sub="c", role="citizen", id_number="001190000001"),
        "officer": issue_token(
            DEV_JWT_SECRET, sub="o", role="officer", agency=AGENCY, step_roles=every
        ),
        "other agency": issue_token(
            DEV_JWT_SECRET, sub="p", role="officer", agency="H99", step_roles=every
        ),
        "ministry": issue_token(DEV_JWT_SECRET, sub="m", role="ministry"),
        "admin": issue_token(DEV_JWT_SECRET, sub="a", role="admin"),
        "inspector": issue_token(DEV_JWT_SECRET, sub="i", role="inspector"),
    }


def intake_client(settings: Settings) -> TestClient:
    """Intake in-process with ``settings`` (a clock file, a base URL …), without its workers."""
    return TestClient(registry.service("intake").root.create_app(settings))


def demo_over(client: TestClient) -> DemoClient:
    """The demo's client, calling the in-process intake ``client``."""
    demo = DemoClient("http://intake", "http://workflow", DEV_JWT_SECRET)
    demo.http = client
    return demo
