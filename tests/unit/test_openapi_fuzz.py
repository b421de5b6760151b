"""Every service answers as its OpenAPI document says, whatever it is sent.

Schemathesis reads each service's /openapi.json and sends every operation generated
requests, valid and invalid, as each kind of caller whose code paths differ: an admin
(past every role check), an officer of one agency (the agency-scoped queries), a citizen
(their own dossiers and inbox) and nobody (the public lookups). No answer may be a
server error, and each must have a status code the operation declares, with the content
type and the body it declares for that status.

Checks left out, on purpose: the stateful ones (use_after_free,
ensure_resource_availability) need links between operations, which the documents do not
declare; which requests must be accepted or refused, and why (positive and negative
data acceptance, the authentication probes) is decided by test_auth_matrix and the
domain tests, not by the document; response headers are documented nowhere.
not_a_server_error lets 503 through: it is the documented answer when a dependency is
away, as the broker (/readyz) and the payment gateway are here. A 500 always fails.

The apps run in-process on their real stores (tests/apps.py); their workers never start.
Generation is derandomized, so CI sends the same requests every run. An operation stops
at its first failure, unshrunk: every 500 logs its traceback, which takes a while, and
the report's curl line reproduces the request as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from motcua.settings import SERVICE_NAMES
from tests.apps import make_app, roles

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CALLERS = ("admin", "officer", "citizen", "anonymous")
NOT_FAILURES = ["2xx", "3xx", "4xx", "503"]


def without_workers(app: ASGIApp) -> ASGIApp:
    """The app with its lifespan answered here: schemathesis runs the lifespan, which
    would start the relay and the consumers, and they would look for a broker."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    return asgi


def headers(caller: str) -> dict[str, str]:
    token = roles().get(caller)
    return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.fixture(params=[(s, c) for s in SERVICE_NAMES for c in CALLERS], ids=lambda p: "-".join(p))
def api(request: pytest.FixtureRequest, tmp_path: Path) -> BaseSchema:
    service, caller = request.param
    if not hasattr(request.node, "_nodeid"):
        # schemathesis 4.32 renames the test item through this attribute, which pytest 9.2
        # no longer has; pytest itself reports by nodeid, so this only lets the loader run.
        request.node._nodeid = request.node.nodeid
    config = schemathesis.Config.from_dict(
        {
            "headers": headers(caller),
            "checks": {"not_a_server_error": {"expected-statuses": NOT_FAILURES}},
        }
    )
    app = without_workers(make_app(service, tmp_path))
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.generate],
)
def test_every_answer_is_one_the_document_declares(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)
