"""Tokens of OpenID Connect providers (motcua/web/oidc.py) and the dev key's rules.

The keys are generated here; a real HTTP server on a thread (http.server) publishes
the discovery document and the JWKS, which the code fetches over HTTP. Nothing of the
verification is replaced: tokens go through intake's HTTP app (its real dependency)
or through ``OidcVerifier`` itself where a test needs to move the clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from motcua.core.errors import Unauthorized, Unavailable
from motcua.runtime.settings import DEV_JWT_SECRET, MIN_JWT_SECRET_BYTES, Settings
from motcua.web.auth import auth_problem, issue_token
from motcua.web.oidc import IssuerConfig, OidcVerifier
from services import registry
from tests.support.processes import ROOT

AUDIENCE = "motcua-portal"
AGENCY = "001.20.51.H23"

# -- keys and a real JWKS server ------------------------------------------------------


@dataclass
class Key:
    kid: str
    algorithm: str
    private: Any

    @classmethod
    def rsa(cls, kid: str | None = None) -> Key:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid or f"rsa-{uuid.uuid4().hex[:6]}", "RS256", private)

    @classmethod
    def ec(cls) -> Key:
        return cls(f"ec-{uuid.uuid4().hex[:6]}", "ES256", ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def ed25519(cls) -> Key:
        return cls(f"ed-{uuid.uuid4().hex[:6]}", "EdDSA", ed25519.Ed25519PrivateKey.generate())

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        jwk: dict[str, Any]
        if self.algorithm == "RS256":
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif self.algorithm == "ES256":
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        return jwk | {"kid": self.kid, "use": "sig"}

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        """Signed, with ``kid`` (the key's own by default; "" for none) in the header."""
        kid = self.kid if kid is None else kid
        headers = {"kid": kid} if kid else None
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers=headers)


@dataclass
class Provider:
    """A provider's published documents, served over HTTP; ``keys`` may change."""

    server: ThreadingHTTPServer
    keys: list[Key] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def jwks_fetches(self) -> int:
        return self.requests.count("/jwks")

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "citizen-oidc-1",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "so_dinh_danh": "001190000001",
            "name": "NGUYỄN THỊ LAN",
        }
        return {k: v for k, v in (claims | overrides).items() if v is not None}


@pytest.fixture
def provider() -> Iterator[Provider]:
    published = Provider(ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            published.requests.append(self.path)
            if self.path == "/.well-known/openid-configuration":
                body: Any = {"issuer": published.issuer, "jwks_uri": f"{published.issuer}/jwks"}
            elif self.path == "/jwks":
                body = {"keys": [k.jwk() for k in published.keys]}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    published.server.RequestHandlerClass = Handler
    thread = threading.Thread(target=published.server.serve_forever, daemon=True)
    thread.start()
    yield published
    published.server.shutdown()
    published.server.server_close()


def citizen_issuer(provider: Provider) -> IssuerConfig:
    """The national portal: citizens, the ID number in its own claim."""
    return IssuerConfig(
        issuer=provider.issuer,
        audience=AUDIENCE,
        claims={"id_number": "so_dinh_danh"},
        default_role="citizen",
    )


def intake(tmp_path: Path, *issuers: IssuerConfig, **settings: Any) -> TestClient:
    config = json.dumps([i.model_dump() for i in issuers])
    app = registry.service("intake").root.create_app(
        Settings(var_dir=tmp_path / "var", oidc_issuers=config, **settings)
    )
    return TestClient(app)


def refused(client: TestClient, token: str) -> str:
    response = client.get("/v1/me/dossiers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    message: str = response.json()["error"]["message"]
    return message


def mine(client: TestClient, token: str) -> list[Any]:
    response = client.get("/v1/me/dossiers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    rows: list[Any] = response.json()
    return rows


# -- what verifies --------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_key", [Key.rsa, Key.ec, Key.ed25519], ids=["RS256", "ES256", "EdDSA"]
)
def test_tokens_of_each_algorithm_verify_and_map_to_the_caller(
    provider: Provider, make_key: Any
) -> None:
    key = make_key()
    provider.keys = [key]
    verifier = OidcVerifier([citizen_issuer(provider)])

    fields = verifier.verify(key.sign(provider.claims()), provider.issuer)

    assert fields["sub"] == "citizen-oidc-1"
    assert fields["role"] == "citizen"
    assert fields["id_number"] == "001190000001"
    assert fields["name"] == "NGUYỄN THỊ LAN"


def test_a_citizen_of_the_national_portal_calls_intake(tmp_path: Path, provider: Provider) -> None:
    key = Key.ed25519()
    provider.keys = [Key.rsa(), key]
    client = intake(tmp_path, citizen_issuer(provider))

    assert mine(client, key.sign(provider.claims())) == []
    assert mine(client, key.sign(provider.claims())) == []
    assert provider.jwks_fetches() == 1, "the keys are cached"


def test_an_officer_of_the_provincial_sso_sees_the_agency_queue(
    tmp_path: Path, provider: Provider
) -> None:
    key = Key.rsa()
    provider.keys = [key]
    sso = IssuerConfig(
        issuer=provider.issuer,
        audience=["other-app", AUDIENCE],
        claims={"role": "realm_access.roles", "agency": "agency_code", "step_roles": "roles"},
        role_values={"can_bo": "officer"},
    )
    client = intake(tmp_path, sso)
    token = key.sign(
        provider.claims(
            sub="officer-oidc-1",
            realm_access={"roles": ["offline_access", "can_bo"]},
            agency_code=AGENCY,
            roles="mot_cua chuyen_vien",
        )
    )

    queue = client.get("/v1/dossiers", headers={"Authorization": f"Bearer {token}"})

    assert queue.status_code == 200, queue.text
    fields = OidcVerifier([sso]).verify(token, provider.issuer)
    assert (fields["role"], fields["agency"]) == ("officer", AGENCY)
    assert fields["step_roles"] == ("mot_cua", "chuyen_vien")


def test_the_leeway_accepts_a_minute_of_clock_skew(tmp_path: Path, provider: Provider) -> None:
    key = Key.rsa()
    provider.keys = [key]
    client = intake(tmp_path, citizen_issuer(provider))
    now = int(time.time())

    assert mine(client, key.sign(provider.claims(exp=now - 30))) == []
    assert mine(client, key.sign(provider.claims(nbf=now + 30, iat=now + 30))) == []


# -- what is refused, and why ---------------------------------------------------------


def test_each_bad_token_is_refused_with_its_reason(tmp_path: Path, provider: Provider) -> None:
    key = Key.rsa()
    provider.keys = [key]
    client = intake(tmp_path, citizen_issuer(provider), oidc_jwks_refetch_seconds=0)
    now = int(time.time())
    forger = Key.rsa(kid=key.kid)  # another private key, claiming the published key's id

    assert refused(client, forger.sign(provider.claims())) == (
        f"the token's signature does not verify ({provider.issuer})"
    )
    assert refused(client, key.sign(provider.claims(exp=now - 120))) == "the token has expired"
    assert refused(client, key.sign(provider.claims(nbf=now + 600))) == (
        "the token is not valid yet: The token is not yet valid (nbf)"
    )
    assert refused(client, key.sign(provider.claims(iat=now + 600, nbf=None))) == (
        "the token is not valid yet: The token is not yet valid (iat)"
    )
    assert refused(client, key.sign(provider.claims(aud="another-service"))) == (
        f"the token is not meant for this service (audience is not {AUDIENCE})"
    )
    assert refused(client, key.sign(provider.claims(iss="https://sso.elsewhere.example"))) == (
        "tokens of issuer 'https://sso.elsewhere.example' are not accepted here"
    )
    assert refused(client, key.sign(provider.claims(exp=None))) == (
        'invalid token: Token is missing the "exp" claim'
    )
    before = provider.jwks_fetches()
    assert refused(client, key.sign(provider.claims(), kid="no-such-key")) == (
        f"the token is signed with a key {provider.issuer} does not publish: key 'no-such-key'"
    )
    assert provider.jwks_fetches() == before + 1, "one refetch, and the key is still unknown"


def test_a_token_of_a_provider_must_not_be_signed_with_a_shared_key(
    tmp_path: Path, provider: Provider
) -> None:
    """Algorithm confusion: HS256 with the provider's public key as the HMAC secret."""
    key = Key.rsa()
    provider.keys = [key]
    client = intake(tmp_path, citizen_issuer(provider))
    public = key.private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    confused = hs256({"alg": "HS256", "typ": "JWT", "kid": key.kid}, provider.claims(), public)
    unsigned = jwt.encode(provider.claims(), "", algorithm="none")

    assert refused(client, confused) == (
        f"the token's algorithm 'HS256' is not accepted from {provider.issuer} "
        "(accepted: RS256, ES256, EdDSA)"
    )
    assert refused(client, unsigned).startswith("the token's algorithm 'none' is not accepted")


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """Signed by hand: PyJWT rightly refuses a public key as an HMAC secret."""

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def test_a_dev_token_is_refused_where_hs256_is_switched_off(
    tmp_path: Path, provider: Provider
) -> None:
    provider.keys = [Key.rsa()]
    client = intake(tmp_path, citizen_issuer(provider), jwt_secret="")
    dev = issue_token(DEV_JWT_SECRET, sub="c", role="citizen")

    assert refused(client, dev) == (
        "tokens of motcua (HS256, shared key) are switched off here; "
        "sign in with the identity provider"
    )


def test_a_token_without_a_role_from_an_issuer_without_a_default_is_refused(
    provider: Provider,
) -> None:
    key = Key.rsa()
    provider.keys = [key]
    verifier = OidcVerifier([IssuerConfig(issuer=provider.issuer, audience=AUDIENCE)])
    from motcua.web.auth import caller_from_claims

    with pytest.raises(Unauthorized, match="the token's claims are not valid: role"):
        caller_from_claims(verifier.verify(key.sign(provider.claims()), provider.issuer))
    with pytest.raises(Unauthorized, match="the token's claims are not valid: role"):
        caller_from_claims(
            verifier.verify(key.sign(provider.claims(role="superuser")), provider.issuer)
        )


def test_an_unreachable_provider_is_unavailable_not_unauthorized() -> None:
    gone = IssuerConfig(issuer="http://127.0.0.1:9", audience=AUDIENCE, default_role="citizen")
    token = Key.rsa().sign({"iss": gone.issuer, "aud": AUDIENCE, "sub": "x"})

    with pytest.raises(
        Unavailable, match=r"cannot fetch the signing keys of http://127\.0\.0\.1:9"
    ):
        OidcVerifier([gone]).verify(token, gone.issuer)


# -- rotation and the refetch's rate limit (the clock moved by hand) -------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_rotated_key_is_picked_up_after_one_refetch(provider: Provider) -> None:
    old, new = Key.rsa(), Key.ec()
    provider.keys = [old]
    clock = Clock()
    verifier = OidcVerifier([citizen_issuer(provider)], refetch_seconds=60, clock=clock)
    assert verifier.verify(old.sign(provider.claims()), provider.issuer)["sub"]
    assert provider.jwks_fetches() == 1

    provider.keys = [new]  # the provider rotates: the old key is withdrawn
    clock.now += 61
    fields = verifier.verify(new.sign(provider.claims()), provider.issuer)

    assert fields["sub"] == "citizen-oidc-1"
    assert provider.jwks_fetches() == 2
    assert verifier.verify(new.sign(provider.claims()), provider.issuer)["sub"]
    assert provider.jwks_fetches() == 2, "the new key is cached"
    assert provider.requests.count("/.well-known/openid-configuration") == 1


def test_unknown_kids_refetch_at_most_once_per_interval(provider: Provider) -> None:
    key, rotated = Key.rsa(), Key.rsa()
    provider.keys = [key]
    clock = Clock()
    verifier = OidcVerifier([citizen_issuer(provider)], refetch_seconds=60, clock=clock)
    verifier.verify(key.sign(provider.claims()), provider.issuer)
    clock.now += 61

    for attempt in range(20):
        with pytest.raises(Unauthorized, match="does not publish: key 'made-up-"):
            verifier.verify(key.sign(provider.claims(), kid=f"made-up-{attempt}"), provider.issuer)
        clock.now += 1
    assert provider.jwks_fetches() == 2, "one refetch for twenty unknown kids in 20 s"

    provider.keys = [key, rotated]
    with pytest.raises(Unauthorized, match="does not publish"):  # still within the interval
        verifier.verify(rotated.sign(provider.claims()), provider.issuer)
    clock.now += 60
    assert verifier.verify(rotated.sign(provider.claims()), provider.issuer)["sub"]
    assert provider.jwks_fetches() == 3


def test_a_rotation_is_picked_up_for_tokens_without_a_kid_too(provider: Provider) -> None:
    """Some providers (the test provider among them) put no kid in their tokens."""
    old, new = Key.rsa(), Key.rsa()
    provider.keys = [old]
    clock = Clock()
    verifier = OidcVerifier([citizen_issuer(provider)], refetch_seconds=60, clock=clock)
    assert verifier.verify(old.sign(provider.claims(), kid=""), provider.issuer)["sub"]

    provider.keys = [new]
    with pytest.raises(Unauthorized, match="signature does not verify"):  # too soon to refetch
        verifier.verify(new.sign(provider.claims(), kid=""), provider.issuer)
    assert provider.jwks_fetches() == 1
    clock.now += 61

    assert verifier.verify(new.sign(provider.claims(), kid=""), provider.issuer)["sub"]
    assert provider.jwks_fetches() == 2
    with pytest.raises(Unauthorized, match="signature does not verify"):
        verifier.verify(old.sign(provider.claims(), kid=""), provider.issuer)
    assert provider.jwks_fetches() == 2, "the refetch just made counts for the rate limit"


def test_keys_older_than_their_max_age_are_fetched_again(provider: Provider) -> None:
    key = Key.rsa()
    provider.keys = [key]
    clock = Clock()
    verifier = OidcVerifier([citizen_issuer(provider)], max_age_seconds=3600, clock=clock)
    verifier.verify(key.sign(provider.claims()), provider.issuer)

    provider.keys = [Key.rsa()]  # the key was withdrawn (compromised)
    clock.now += 3601

    with pytest.raises(Unauthorized, match="does not publish"):
        verifier.verify(key.sign(provider.claims()), provider.issuer)


# -- the configuration and the dev key's rules -----------------------------------------


def test_the_issuers_may_come_from_a_file(tmp_path: Path, provider: Provider) -> None:
    key = Key.rsa()
    provider.keys = [key]
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps([citizen_issuer(provider).model_dump()]))
    app = registry.service("intake").root.create_app(
        Settings(var_dir=tmp_path / "var", oidc_issuers=str(path))
    )

    assert mine(TestClient(app), key.sign(provider.claims())) == []


def test_the_dev_key_is_long_enough_for_hs256() -> None:
    assert len(DEV_JWT_SECRET.encode()) >= MIN_JWT_SECRET_BYTES == 32


ISSUER = '[{"issuer": "https://sso.dongthap.gov.vn", "audience": "motcua"}]'


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "MOTCUA_JWT_SECRET is the public dev key and dev mode is off"),
        ({"jwt_secret": "short-key"}, "MOTCUA_JWT_SECRET is 9 bytes long; an HS256 key needs"),
        ({"jwt_secret": "x" * 31, "dev_mode": True}, "is 31 bytes long"),
        ({"jwt_secret": ""}, "no way to sign in: MOTCUA_JWT_SECRET is empty (HS256 off)"),
        ({"jwt_secret": "", "oidc_issuers": "[{}]"}, "MOTCUA_OIDC_ISSUERS is not a valid list"),
        ({"jwt_secret": "", "oidc_issuers": "/nowhere.json"}, "cannot read /nowhere.json"),
        (
            {
                "jwt_secret": "",
                "oidc_issuers": '[{"issuer": "http://sso.gov.vn", "audience": "a"}]',
            },
            "must be an https URL (http only on loopback)",
        ),
        (
            {
                "jwt_secret": "",
                "oidc_issuers": ISSUER.replace('"}]', '", "algorithms": ["HS256"]}]'),
            },
            "not accepted: ['HS256']",
        ),
        (
            {"jwt_secret": "", "oidc_issuers": ISSUER.replace('"}]', '", "default_role": "x"}]')},
            "unknown roles ['x']",
        ),
    ],
)
def test_settings_a_service_refuses_to_start_with(settings: dict[str, Any], problem: str) -> None:
    found = auth_problem(Settings(**settings))

    assert found is not None
    assert problem in found


@pytest.mark.parametrize(
    "settings",
    [
        {"dev_mode": True},
        {"jwt_secret": "k" * 32},
        {"jwt_secret": "", "oidc_issuers": ISSUER},
        {"jwt_secret": "k" * 40, "oidc_issuers": ISSUER},
    ],
)
def test_settings_a_service_starts_with(settings: dict[str, Any]) -> None:
    assert auth_problem(Settings(**settings)) is None


def serve(tmp_path: Path, service: str = "intake", **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    environment |= {"MOTCUA_VAR_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "ops.serve", service],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_a_service_with_the_dev_key_outside_dev_mode_does_not_start(tmp_path: Path) -> None:
    result = serve(tmp_path)

    assert result.returncode != 0
    assert result.stderr.startswith(
        "intake does not start: MOTCUA_JWT_SECRET is the public dev key and dev mode is off"
    )
    assert "Traceback" not in result.stderr


def test_a_service_with_a_short_key_does_not_start_even_in_dev_mode(tmp_path: Path) -> None:
    result = serve(tmp_path, MOTCUA_JWT_SECRET="too-short", MOTCUA_DEV_MODE="true")

    assert result.returncode != 0
    assert "MOTCUA_JWT_SECRET is 9 bytes long; an HS256 key needs at least 32" in result.stderr
    assert "Traceback" not in result.stderr


def test_workflow_outside_dev_mode_does_not_start_with_the_development_ca(tmp_path: Path) -> None:
    result = serve(tmp_path, "workflow", MOTCUA_JWT_SECRET="k" * 32)

    assert result.returncode != 0
    assert result.stderr.startswith(
        "workflow does not start: MOTCUA_RESULT_SIGNING_DIR is not set and dev mode is off"
    )
    assert "Traceback" not in result.stderr
