"""Every service answers as its OpenAPI document says, whatever it is sent.

Schemathesis reads each service's /openapi.json and sends every operation generated
requests, valid and invalid, as each kind of caller whose code paths differ: an admin
(past every role check), an officer of one agency (the agency-scoped queries), a citizen
(their own dossiers and inbox) and nobody (the public lookups). No answer may be a
server error, and each must have a status code the operation declares, with the content
type and the body it declares for that status. Besides:

* a method the path does not have answers 405 with an ``Allow`` header (RFC 9110), and
  the ``Allow`` of an OPTIONS names exactly the path's documented methods
  (unsupported_method, allow_header_conformance);
* an operation that declares the bearer token answers 401 without it
  (missing_required_header; no other header is required anywhere);
* a request the document calls invalid (a header shorter than its ``minLength``, a
  wrong type, a missing field) is refused with a 4xx (negative_data_rejection), but for a
  change of type of a multipart file, whose bytes are a file whatever they spell;
* a request the document calls valid is never answered the 422 ``invalid_request`` of a
  request not as documented: what the code checks of a request's shape (the
  ``Idempotency-Key``'s length, an upload's first byte), the document says.

Checks left out, on purpose: the stateful ones (use_after_free,
ensure_resource_availability) need links between operations, which the documents do not
declare; positive_data_acceptance would count the domain's refusals of valid requests
(the 422 ``invalid`` of a form field the procedure needs, 403, 404, 409), which depend on
the data, not on the document; which requests must be accepted or refused for whom (the
authentication probes ignored_auth and object_level_authorization) is decided by
test_auth_matrix and the domain tests; response_headers_conformance has nothing to
check: no response header is documented (the ``Allow`` of a 405 is checked above).
not_a_server_error lets 503 through: it is the documented answer when a dependency is
away, as the broker (/readyz) and the payment gateway are here. A 500 always fails.

The apps run in-process on their real stores (tests/support/apps.py); their workers never start.
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
from schemathesis.core.mutations import OperatorKind
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi import checks
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from services.registry import NAMES as SERVICE_NAMES
from tests.support.apps import make_app, roles


def valid_requests_are_not_refused_as_malformed(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> None:
    """A request the document calls valid is never answered ``invalid_request``, the 422
    of a request not shaped as documented: what the code checks of a request's shape,
    the document says. The domain's own 422 (``invalid``: a form field missing for the
    procedure) is no failure: which content a procedure accepts is not in the document."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if response.status_code == 422 and response.json()["error"]["code"] == "invalid_request":
        problems = response.json()["error"]["details"]
        raise AssertionError(f"a request valid by the document was refused: {problems}")


def _file_parts(case: schemathesis.Case[Any]) -> set[str]:
    """The properties of the case's multipart body that are files."""
    for body in case.operation.body:
        if body.media_type == case.media_type == "multipart/form-data":
            properties = body.optimized_schema.get("properties", {})
            return {name for name, schema in properties.items() if "contentMediaType" in schema}
    return set()


def _a_file_mutated_in_type(case: schemathesis.Case[Any]) -> bool:
    """A multipart file is bytes: an "integer" file is the bytes of its digits, a file."""
    mutations = getattr(case.meta.phase.data, "mutations", ()) if case.meta else ()
    pointers = {f"/properties/{name}" for name in _file_parts(case)} if mutations else set()
    return bool(pointers) and all(
        m.operator == OperatorKind.CHANGE_TYPE and m.schema_pointer in pointers for m in mutations
    )


def negative_data_rejection(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """Schemathesis' check (a request the document calls invalid is refused with a 4xx),
    but for a change of type of a multipart file, which sends a valid file."""
    if _a_file_mutated_in_type(case):
        return None
    return checks.negative_data_rejection(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    unsupported_method,
    allow_header_conformance,
    missing_required_header,
    negative_data_rejection,
    valid_requests_are_not_refused_as_malformed,
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


# Twelve cases per operation and caller, the same ones every run (derandomized): with
# the explicit examples of each operation, enough to reach each declared answer, and
# what the suite can afford (it fuzzes every service for four callers).
@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.generate],
)
def test_every_answer_is_one_the_document_declares(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)
