"""Signing in with real identity providers: a citizen through the national portal, an
officer through the provincial SSO, each an OpenID Connect provider of its own.

Each provider is ``oidc-provider-mock`` (a real OIDC server for tests: discovery, JWKS,
authorization-code flow, RS256 ID tokens) run as a process on a free port. The test
signs in as a browser-based app would, over HTTP with httpx: the authorization request
with a PKCE S256 challenge, the provider's login form, the redirect with the code, the
token endpoint with the code verifier. Intake runs as a real process that trusts both
providers (``MOTCUA_OIDC_ISSUERS``) and accepts no HS256 token at all.

Notes on the provider (0.3.4, the last release for Python 3.11): its access tokens are
opaque, so the ID token (a JWT whose audience is our client id) is the bearer token;
its token endpoint wants a client secret, any will do (``client_secret_post``); it does
not check the PKCE verifier (the flow sends one all the same, as the portal does); and
it has no key rotation: its key lives as long as the process, so a rotation is a
restart on the same port, which publishes a new key under the same issuer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import jwt
import pytest

from devtools.demo.client import DemoClient
from devtools.demo.workflow import birth_to_electronic_result, wait_for_process
from motcua.runtime.settings import DEV_JWT_SECRET
from motcua.web.auth import issue_token
from tests.support.dossiers import BIRTH_AGENCY, CITIZEN_ID, submit_birth
from tests.support.processes import ServiceProcess, free_port, wait_for_port

pytestmark = pytest.mark.integration

CLIENT_ID = "motcua-portal"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never called: the code is read from the redirect
CITIZEN: dict[str, Any] = {
    "sub": "vneid-001190000001",
    "name": "NGUYỄN THỊ LAN",
    "so_dinh_danh": CITIZEN_ID,
}
OFFICER: dict[str, Any] = {
    "sub": "sso-canbo-0042",
    "name": "TRẦN VĂN BÌNH",
    "agency_code": BIRTH_AGENCY,
    "vai_tro": "can_bo_mot_cua",
    "roles": ["mot_cua"],
}
# The commune's officers, one step role each, and the province's administrator.
COMMUNE_OFFICERS: dict[str, dict[str, Any]] = {
    role: {
        "sub": f"sso-{role}",
        "name": f"CÁN BỘ {role.upper()}",
        "agency_code": BIRTH_AGENCY,
        "vai_tro": "can_bo_mot_cua",
        "roles": [role],
    }
    for role in ("mot_cua", "chuyen_vien", "lanh_dao")
}
ADMIN: dict[str, Any] = {"sub": "sso-quantri", "name": "QUẢN TRỊ", "vai_tro": "quan_tri"}


@dataclass
class Provider:
    """An OIDC provider process; ``restart`` gives it a new signing key."""

    port: int
    users: list[dict[str, Any]]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Provider:
        argv = [sys.executable, "-m", "oidc_provider_mock", "--port", str(self.port)]
        for user in self.users:
            argv += ["--user-claims", json.dumps(user, ensure_ascii=False)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def jwks(self) -> dict[str, Any]:
        discovery = httpx.get(f"{self.issuer}/.well-known/openid-configuration").json()
        keys: dict[str, Any] = httpx.get(discovery["jwks_uri"]).json()
        return keys


class Forms(HTMLParser):
    """The forms of a page: each one's action and its inputs' names."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attributes.get("action") or "", "inputs": set()})
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1]["inputs"].add(attributes["name"])


def sign_in(provider: Provider, sub: str) -> dict[str, Any]:
    """The authorization-code flow with PKCE, as the portal's browser app runs it;
    the token endpoint's answer (id_token, access_token …)."""
    with httpx.Client(timeout=10) as browser:
        discovery = browser.get(f"{provider.issuer}/.well-known/openid-configuration").json()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        page = browser.get(
            discovery["authorization_endpoint"],
            params={
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid profile",
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            },
        )
        assert page.status_code == 200, page.text
        forms = Forms()
        forms.feed(page.text)
        (login,) = [f for f in forms.forms if "sub" in f["inputs"]]
        redirect = browser.post(urljoin(str(page.url), login["action"]), data={"sub": sub})
        assert redirect.status_code == 302, redirect.text
        location = urlsplit(redirect.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
        query = parse_qs(location.query)
        assert query["state"] == [state]
        tokens = browser.post(
            discovery["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT_URI,
                "client_id": CLIENT_ID,
                "client_secret": "unused-by-the-test-provider",
                "code_verifier": verifier,
            },
        )
        assert tokens.status_code == 200, tokens.text
        answer: dict[str, Any] = tokens.json()
    claims = jwt.decode(answer["id_token"], options={"verify_signature": False})
    assert claims["nonce"] == nonce  # the app's own check, before it uses the token
    return answer


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['id_token']}"}


@pytest.fixture
def providers(tmp_path: Path) -> Iterator[tuple[Provider, Provider]]:
    """The national portal (citizens) and the provincial SSO (officers)."""
    portal = Provider(free_port(), [CITIZEN], tmp_path / "portal.log").start()
    sso_users = [OFFICER, *COMMUNE_OFFICERS.values(), ADMIN]
    sso = Provider(free_port(), sso_users, tmp_path / "sso.log").start()
    yield portal, sso
    portal.stop()
    sso.stop()


def trusted(portal: Provider, sso: Provider) -> dict[str, str]:
    """The services' settings: both providers trusted, the shared key switched off."""
    issuers = [
        {
            "issuer": portal.issuer,
            "audience": CLIENT_ID,
            "claims": {"id_number": "so_dinh_danh"},
            "default_role": "citizen",
        },
        {
            "issuer": sso.issuer,
            "audience": CLIENT_ID,
            "claims": {"role": "vai_tro", "agency": "agency_code", "step_roles": "roles"},
            "role_values": {"can_bo_mot_cua": "officer", "quan_tri": "admin"},
        },
    ]
    return {
        "MOTCUA_OIDC_ISSUERS": json.dumps(issuers),
        "MOTCUA_JWT_SECRET": "",  # the providers' tokens only
        "MOTCUA_OIDC_JWKS_REFETCH_SECONDS": "1",
    }


@pytest.fixture
def intake(
    start_intake: Callable[..., ServiceProcess], providers: tuple[Provider, Provider]
) -> Iterator[httpx.Client]:
    process = start_intake(**trusted(*providers))
    with httpx.Client(base_url=process.url, timeout=30) as client:
        yield client


class SignedIn(DemoClient):
    """The demo's client with the providers' tokens instead of dev tokens: each call for
    the officer of an agency is made by whoever holds the current step's role there."""

    def __init__(self, intake_url: str, workflow_url: str, portal: Provider, sso: Provider):
        super().__init__(intake_url, workflow_url, secret="")
        self.citizen_token = bearer(sign_in(portal, CITIZEN["sub"]))
        self.officers = {r: bearer(sign_in(sso, u["sub"])) for r, u in COMMUNE_OFFICERS.items()}
        self.admin_token = bearer(sign_in(sso, ADMIN["sub"]))
        self.dossier_id = ""

    def citizen(self, a: Any) -> dict[str, str]:
        return self.citizen_token

    def admin(self) -> dict[str, str]:
        return self.admin_token

    def officer(
        self, agency: str, step_roles: tuple[str, ...] = (), sub: str | None = None
    ) -> dict[str, str]:
        if not self.dossier_id:
            return self.officers["mot_cua"]
        queue = self.flow.get("/v1/queue", headers=self.officers["mot_cua"]).json()
        row = next((r for r in queue if r["dossier_id"] == self.dossier_id), None)
        return self.officers[row["step_role"] if row else "mot_cua"]


def test_a_citizen_and_an_officer_signed_in_at_their_providers_use_intake(
    intake: httpx.Client, providers: tuple[Provider, Provider]
) -> None:
    portal, sso = providers
    citizen = bearer(sign_in(portal, CITIZEN["sub"]))
    officer = bearer(sign_in(sso, OFFICER["sub"]))

    dossier_id = submit_birth(intake, citizen)
    mine = intake.get("/v1/me/dossiers", headers=citizen)
    assert mine.status_code == 200, mine.text
    assert [d["id"] for d in mine.json()] == [dossier_id]

    queue = intake.get("/v1/dossiers", params={"status": "submitted"}, headers=officer)
    assert queue.status_code == 200, queue.text
    assert dossier_id in [d["id"] for d in queue.json()]
    accepted = intake.post(f"/v1/dossiers/{dossier_id}/accept", headers=officer)
    assert accepted.status_code == 200, accepted.text
    code = accepted.json()["code"]
    assert code.startswith(f"{BIRTH_AGENCY}-")

    view = intake.get(f"/v1/dossiers/{code}", headers=citizen)
    assert view.status_code == 200, view.text
    assert view.json()["status"] == "received"
    assert view.json()["form_data"]["so_dinh_danh"] == CITIZEN_ID  # the applicant's own

    # The roles come from the providers' claims, not from what a token could claim.
    assert intake.get("/v1/dossiers", headers=citizen).status_code == 403
    assert intake.get("/v1/me/dossiers", headers=officer).status_code == 403
    dev = {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, sub='x', role='admin')}"}
    refused = intake.get("/v1/dossiers", headers=dev)
    assert refused.status_code == 401
    assert "switched off" in refused.json()["error"]["message"]


def test_after_the_portal_rotates_its_key_new_tokens_work_and_old_ones_do_not(
    intake: httpx.Client, providers: tuple[Provider, Provider]
) -> None:
    portal, sso = providers
    before = sign_in(portal, CITIZEN["sub"])
    assert intake.get("/v1/me/dossiers", headers=bearer(before)).status_code == 200
    old_keys = portal.jwks()

    portal.restart()  # a new signing key under the same issuer
    assert portal.jwks() != old_keys
    time.sleep(1.1)  # MOTCUA_OIDC_JWKS_REFETCH_SECONDS=1 in this test
    after = sign_in(portal, CITIZEN["sub"])

    mine = intake.get("/v1/me/dossiers", headers=bearer(after))
    assert mine.status_code == 200, mine.text
    stale = intake.get("/v1/me/dossiers", headers=bearer(before))
    assert stale.status_code == 401
    assert stale.json()["error"]["message"] == (
        f"the token's signature does not verify ({portal.issuer})"
    )
    officer = bearer(sign_in(sso, OFFICER["sub"]))  # the other issuer's keys are untouched
    assert intake.get("/v1/dossiers", headers=officer).status_code == 200


def test_with_the_dev_key_off_a_dossier_goes_from_submission_to_a_signed_result(
    start_service: Callable[..., ServiceProcess], providers: tuple[Provider, Provider]
) -> None:
    portal, sso = providers
    settings = trusted(portal, sso)
    intake, workflow = start_service("intake", **settings), start_service("workflow", **settings)
    client = SignedIn(intake.url, workflow.url, portal, sso)

    client.dossier_id = submit_birth(client.http, client.citizen_token)
    accepted = client.call("POST", f"/v1/dossiers/{client.dossier_id}/accept", client.officer(""))
    wait_for_process(client, client.dossier_id)
    birth_to_electronic_result(client, client.dossier_id)

    code = accepted["code"]
    document = client.flow.get(f"/v1/dossiers/{code}/result/document", headers=client.citizen(None))
    assert document.status_code == 200, document.text
    check = client.flow.post(
        f"/v1/dossiers/{code}/result/verify",
        files={"file": ("giay-khai-sinh.pdf", document.content, "application/pdf")},
    ).json()
    assert (check["matches"], check["valid"], check["signature"]["trusted"]) == (True, True, True)
    history = client.act("GET", f"/v1/dossiers/{client.dossier_id}/timeline", client.admin())
    acted = {(e["by"], e["role"]) for e in history["history"] if e["role"]}
    assert {(u["sub"], r) for r, u in COMMUNE_OFFICERS.items()} <= acted  # each in their role
