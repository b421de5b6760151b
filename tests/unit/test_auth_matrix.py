"""Authentication across every endpoint of every service, found from the apps' routes.

A new endpoint is covered the moment it exists: it either requires a token (no token,
an expired one or a forged one → 401), or it is listed below as public on purpose.
Every role then calls every endpoint: whatever the answer, never a 5xx. The apps run
in-process on their real stores (SQLite in a temporary directory); their background
workers are not started, so no broker is needed.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from motcua.runtime.settings import DEV_JWT_SECRET
from motcua.web.auth import issue_token
from services.registry import NAMES as SERVICE_NAMES
from tests.support.apps import make_app, roles
from tests.support.dossiers import BIRTH, officer
from tests.support.ledger import deliver
from tests.support.samples import received

PROBES = {"/healthz", "/readyz", "/metrics"}
# Endpoints anyone may call: probes, the catalogue, the public lookup (and its page) and
# what hangs off it (code + ID number instead of a token: counter applicants have no
# account), the electronic result's download (the same credentials) and its check by
# code and hash, the payment page's checkout, the public statistics.
PUBLIC = {
    "intake": PROBES | {
        "/v1/procedures", "/v1/procedures/{procedure_id}", "/v1/dossiers/{ref}",
        "/v1/dossiers/{ref}/receipt", "/v1/dossiers/{ref}/receipt.html",
        "/v1/dossiers/{ref}/qr.png", "/v1/dossiers/{ref}/rating", "/v1/dossiers/{ref}/feedback",
        "/v1/calendar", "/v1/calendar/deadline", "/lookup",
    },
    "workflow": PROBES | {
        "/v1/dossiers/{ref}/result/document", "/v1/dossiers/{code}/result/verify",
        "/v1/calendar",
    },
    "payment": PROBES | {"/v1/payments/{ref}/checkout", "/v1/attempts/{attempt_id}"},
    "notify": PROBES,
    "stats": PROBES | {"/v1/stats/ytd", "/v1/reports", "/v1/stats/index", "/stats"},
    "interagency": PROBES | {"/v1/feeds"},
    "portal": PROBES,
    "postal": PROBES,
}  # fmt: skip
# Endpoints with an authentication of their own: the gateway and the postal operator sign
# their callbacks.
OWN_AUTH = {"payment": {"/v1/gateway/callback"}, "postal": {"/v1/postal/callback"}}


def tokens() -> dict[str, str | None]:
    now = int(time.time())
    expired = jwt.encode(
        {"sub": "x", "role": "admin", "iss": "motcua", "iat": now - 7200, "exp": now - 3600},
        DEV_JWT_SECRET,
        algorithm="HS256",
    )
    forged = issue_token("not-the-province-key-but-32-bytes-long", sub="x", role="admin")
    return {"none": None, "expired": expired, "forged": forged}


def concrete(path: str) -> str:
    """The path with every parameter filled with a plausible value that exists nowhere."""
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def endpoints(app: FastAPI) -> Iterator[tuple[str, str, bool]]:
    """(method, path, whether it accepts a bearer token) of every operation in the
    service's OpenAPI document: what the portal's developers see."""
    for path, operations in app.openapi()["paths"].items():
        for method, operation in sorted(operations.items()):
            yield method.upper(), path, bool(operation.get("security"))


@pytest.fixture(params=SERVICE_NAMES)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, TestClient]:
    name: str = request.param
    return name, TestClient(make_app(name, tmp_path), raise_server_exceptions=False)


# Well-formed bodies and path values, so that what is tested is who may call, not
# whether the request is valid.
BODIES: dict[str, dict[str, Any]] = {
    "/v1/dossiers/{dossier_id}/feedback/{feedback_id}/answer": {"answer": "Đã xử lý"},
    "/v1/dossiers/{dossier_id}/refuse": {"reason": "Thiếu giấy tờ"},
    "/v1/dossiers/{dossier_id}/reject": {"reason": "Không đủ điều kiện"},
    "/v1/dossiers/{dossier_id}/request-supplement": {"reason": "Thiếu bản sao"},
    "/v1/dossiers/{dossier_id}/request-completion": {"reason": "Thiếu giấy tờ"},
    "/v1/payments/{ref}/refunds/{refund_id}/paid": {"reference": "PC-0001"},
    "/v1/dossiers/{dossier_id}/returned": {"method": "pickup"},
    "/v1/dossiers/{dossier_id}/result": {"kind": "pickup"},
    "/v1/payments/{ref}/offline": {"method": "counter", "reference": "PT-1", "amount_vnd": 1},
    "/v1/dossiers/{dossier_id}/apology": {"reason": "Chậm", "appointment_date": "2026-12-01"},
    "/v1/directory/agencies/{code}": {"name": "Sở Tư pháp", "reason": "Quyết định số 1"},
    "/v1/directory/officers/{sub}": {
        "agency": "000.00.20.H23",
        "step_roles": ["chuyen_vien"],
        "reason": "Quyết định số 2",
    },
}


def call(client: TestClient, method: str, path: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = BODIES.get(path, {}) if method in ("POST", "PUT", "PATCH") else None
    url = concrete(path.replace("{day}", "2026-11-20"))
    return client.request(method, url, headers=headers, json=body)


def test_every_endpoint_needs_a_valid_token_unless_it_is_public(
    service: tuple[str, TestClient],
) -> None:
    name, client = service
    unexpected_public = []
    checked = 0
    for method, path, _ in endpoints(client.app):  # type: ignore[arg-type]
        if path in OWN_AUTH.get(name, set()):
            continue
        if call(client, method, path, None).status_code != 401:
            if path not in PUBLIC[name]:
                unexpected_public.append(f"{method} {path}")
            continue
        for kind, token in tokens().items():
            response = call(client, method, path, token)
            assert response.status_code == 401, (kind, method, path, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            if kind == "expired":
                assert "expired" in response.json()["error"]["message"]
        checked += 1
    assert unexpected_public == [], "declare these public in PUBLIC, or require a token"
    assert checked > 0 or name in ("stats", "interagency")


def test_a_bad_token_is_refused_even_where_no_token_is_needed(
    service: tuple[str, TestClient],
) -> None:
    name, client = service
    for method, path, bearer in endpoints(client.app):  # type: ignore[arg-type]
        if bearer and path in PUBLIC[name]:
            response = call(client, method, path, tokens()["forged"])
            assert response.status_code == 401, (method, path, response.text)


def test_no_role_ever_gets_a_server_error(service: tuple[str, TestClient]) -> None:
    _, client = service
    failures = []
    for method, path, _ in endpoints(client.app):  # type: ignore[arg-type]
        for role, token in roles().items():
            response = call(client, method, path, token)
            # 503 is an honest answer when a dependency is away (the gateway, the
            # workers of an app not started here); 500 never is.
            if response.status_code >= 500 and response.status_code != 503:
                failures.append(f"{role}: {method} {path} → {response.status_code}")
    assert failures == []


OFFICER_ONLY: dict[str, list[tuple[str, str]]] = {
    "intake": [
        ("POST", "/v1/dossiers/{dossier_id}/accept"),
        ("POST", "/v1/dossiers/{dossier_id}/request-completion"),
        ("POST", "/v1/dossiers/{dossier_id}/refuse"),
        ("POST", "/v1/dossiers/{dossier_id}/feedback/{feedback_id}/answer"),
        ("GET", "/v1/feedback"),
        ("GET", "/v1/dossiers"),
    ],
    "workflow": [
        ("GET", "/v1/queue"),
        ("POST", "/v1/dossiers/{dossier_id}/claim"),
        ("POST", "/v1/dossiers/{dossier_id}/complete-step"),
        ("POST", "/v1/dossiers/{dossier_id}/hand-over"),
        ("POST", "/v1/dossiers/{dossier_id}/request-supplement"),
        ("POST", "/v1/dossiers/{dossier_id}/approve"),
        ("POST", "/v1/dossiers/{dossier_id}/reject"),
        ("POST", "/v1/dossiers/{dossier_id}/result"),
        ("POST", "/v1/dossiers/{dossier_id}/returned"),
        ("POST", "/v1/dossiers/{dossier_id}/apology"),
    ],
    "payment": [
        ("POST", "/v1/payments/{ref}/offline"),
        ("POST", "/v1/payments/{ref}/refunds/{refund_id}/paid"),
        ("GET", "/v1/reconciliations/{day}"),
        ("POST", "/v1/reconciliations/{day}"),
    ],
    "notify": [("GET", "/v1/notices"), ("POST", "/v1/notices/{notice_id}/resend")],
    "stats": [],
    "interagency": [],
    "portal": [
        ("GET", "/v1/portal/records"),
        ("GET", "/v1/portal/summary"),
        ("GET", "/v1/portal/reconciliation"),
        ("POST", "/v1/portal/records/{code}/resend"),
        ("POST", "/v1/portal/resend-failing"),
    ],
    "postal": [("GET", "/v1/postal/shipments"), ("GET", "/v1/postal/shipments/{code}")],
}


# Endpoints every service has for administrators and inspectors only: the access report.
INSPECTION = [("GET", "/v1/access-report")]


def test_the_access_report_is_for_administrators_and_inspectors_only(
    service: tuple[str, TestClient],
) -> None:
    _, client = service
    answers = {
        (role, method, path): call(client, method, path, token).status_code
        for method, path in INSPECTION
        for role, token in roles().items()
    }
    expected = {
        (role, method, path): 200 if role in ("admin", "inspector") else 403
        for role, method, path in answers
    }
    assert answers == expected


@pytest.mark.parametrize("role", ["citizen", "ministry"])
def test_officer_actions_are_forbidden_to_citizens_and_ministries(
    service: tuple[str, TestClient], role: str
) -> None:
    """A well-formed request from the wrong role is refused: 403, or 404 where the
    dossier is looked up first (it exists nowhere here; officers of the wrong agency on
    real dossiers are tested where the dossiers are: test_workflow, test_ratings)."""
    name, client = service
    wrong = [
        f"{method} {path} → {status}"
        for method, path in OFFICER_ONLY[name]
        if (status := call(client, method, path, roles()[role]).status_code) not in (403, 404)
    ]
    assert wrong == []


# The directory of agencies and officers is the administrator's, reading included.
ADMIN_ONLY: dict[str, list[tuple[str, str]]] = {
    "intake": [
        ("GET", "/v1/directory/agencies"),
        ("PUT", "/v1/directory/agencies/{code}"),
        ("GET", "/v1/directory/officers"),
        ("PUT", "/v1/directory/officers/{sub}"),
        ("DELETE", "/v1/directory/officers/{sub}"),
    ],
}


@pytest.mark.parametrize("role", ["citizen", "officer", "ministry"])
def test_the_directory_is_the_administrators_alone(tmp_path: Path, role: str) -> None:
    client = TestClient(make_app("intake", tmp_path), raise_server_exceptions=False)
    wrong = []
    for method, path in ADMIN_ONLY["intake"]:
        url = concrete(path) + ("?reason=Chuyển công tác" if method == "DELETE" else "")
        body = BODIES.get(path) if method == "PUT" else None
        headers = {"Authorization": f"Bearer {roles()[role]}"}
        if (status := client.request(method, url, headers=headers, json=body).status_code) != 403:
            wrong.append(f"{method} {path} → {status}")
    assert wrong == []


def test_the_lists_above_name_real_endpoints(tmp_path: Path) -> None:
    """A renamed endpoint must not leave the lists silently checking nothing."""
    missing: list[str] = []
    for name in SERVICE_NAMES:
        app = make_app(name, tmp_path / name)
        real = {(m, p) for m, p, _ in endpoints(app)}
        paths = {p for _, p in real}
        missing += [f"{name} {m} {p}" for m, p in OFFICER_ONLY[name] if (m, p) not in real]
        missing += [f"{name} {m} {p}" for m, p in INSPECTION if (m, p) not in real]
        missing += [f"{name} {m} {p}" for m, p in ADMIN_ONLY.get(name, []) if (m, p) not in real]
        declared = PUBLIC[name] | OWN_AUTH.get(name, set())
        missing += [f"{name} {p}" for p in declared if p not in paths]
    assert missing == []


# Step roles: on a real dossier at a step whose role is the leader's (lanh_dao), each
# step action is the leader's alone; the specialist of the same agency, an officer
# without step roles and an admin are refused, an officer elsewhere as before.
LEADERS_STEP_BODIES = {
    "claim": {},
    "complete-step": {"notes": "Đã ký"},
    "approve": {"notes": "Đồng ý"},
    "reject": {"reason": "Không đủ điều kiện"},
}
LEADERS_STEP_CALLERS = {
    "leader": (officer(sub="ld-1", step_roles=("lanh_dao",)), {204}),
    "specialist": (officer(sub="cv-1", step_roles=("chuyen_vien",)), {403}),
    "no step roles": (officer(sub="x-1", step_roles=()), {403}),
    "other agency, every role": (officer("000.00.31.H23", sub="p-1"), {403, 404}),
    "admin": ({"Authorization": f"Bearer {roles()['admin']}"}, {403}),
}


@pytest.mark.parametrize("action", sorted(LEADERS_STEP_BODIES))
@pytest.mark.parametrize("who", sorted(LEADERS_STEP_CALLERS))
def test_the_leaders_step_is_acted_on_by_the_leader_only(
    tmp_path: Path, action: str, who: str
) -> None:
    client = TestClient(make_app("workflow", tmp_path), raise_server_exceptions=False)
    workflow = client.app.state.workflow  # type: ignore[attr-defined]
    event = received(BIRTH)
    deliver(workflow, workflow.store, workflow.handlers(), event, name="workflow")
    dossier = f"/v1/dossiers/{event.dossier_id}"
    while workflow.repository.get(event.dossier_id).step["role"] != "lanh_dao":
        assert client.post(f"{dossier}/complete-step", headers=officer(), json={}).is_success
    headers, allowed = LEADERS_STEP_CALLERS[who]

    response = client.post(f"{dossier}/{action}", headers=headers, json=LEADERS_STEP_BODIES[action])

    assert response.status_code in allowed, response.text
    if who == "specialist":
        message = response.json()["error"]["message"]
        assert "you need the step role lanh_dao" in message
        assert message.endswith("your step roles: chuyen_vien")
