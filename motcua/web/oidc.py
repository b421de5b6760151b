"""Tokens from OpenID Connect identity providers: the province's SSO, the national portal.

Which providers are trusted is configuration (``MOTCUA_OIDC_ISSUERS``: a JSON list of
``IssuerConfig``, or the path of a file holding one), not code: each province has its
own SSO, and the national public-service portal signs citizens' tokens. A token is
matched to its provider by its (as yet unverified) ``iss``; an issuer not configured is
refused before anything is fetched. Then, with PyJWT:

* the signature, with the provider's key named by the token's ``kid``, among the keys of
  its JWKS (the ``jwks_uri`` of ``<issuer>/.well-known/openid-configuration``), for an
  asymmetric algorithm the issuer is configured for (RS256, ES256, EdDSA by default;
  never HS256 or ``none``, so a provider's public key can never serve as an HMAC key);
* ``iss``, ``aud``, ``exp``, ``nbf`` and ``iat``, with a leeway for clock skew
  (``MOTCUA_OIDC_LEEWAY_SECONDS``, 60 s).

The claims then become a ``Caller`` through the issuer's claim map (claim names differ
between providers: ``so_dinh_danh`` for the ID number, ``roles`` for the step roles …).

**Keys and their cache.** Each issuer's discovery document and JWKS are fetched on the
first token from it and kept in memory, per process. A token naming a ``kid`` the cache
lacks (the provider rotated its key), or without a ``kid`` and not verified by the
issuer's one cached key, fetches the JWKS again, at most once per
``MOTCUA_OIDC_JWKS_REFETCH_SECONDS`` (60 s) per issuer, so a stream of tokens with
made-up ``kid`` values costs the provider one request a minute, not one per request.
Keys older than ``MOTCUA_OIDC_JWKS_MAX_AGE_SECONDS`` (1 h) are fetched again when next
used, so a key the provider withdrew stops being accepted; if that fetch fails the old
keys stay in use (and the failure is logged). One lock per issuer: concurrent requests
wait for one fetch instead of each making their own.

Fetching blocks, with a timeout (``MOTCUA_OIDC_HTTP_TIMEOUT_SECONDS``, 5 s): the FastAPI
dependency that calls it (``motcua.web.auth.optional_caller``) is a plain function,
which FastAPI runs in its thread pool, never on the event loop; and it happens only on
the first token, on a rotation or once an hour.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import jwt
import structlog
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from motcua.core.errors import Unauthorized, Unavailable

log = structlog.get_logger(__name__)

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
CallerField = Literal[
    "sub", "role", "agency", "name", "id_number", "phone", "email", "birthdate", "address",
    "step_roles",
]  # fmt: skip
# Where a Caller's fields are found when the issuer's map does not say: OpenID Connect's
# standard claims, and our own names for the rest.
STANDARD_CLAIMS: dict[str, str] = {
    "sub": "sub",
    "role": "role",
    "agency": "agency",
    "name": "name",
    "id_number": "id_number",
    "phone": "phone_number",
    "email": "email",
    "birthdate": "birthdate",
    "address": "address",
    "step_roles": "step_roles",
}


class OidcConfigError(ValueError):
    """``MOTCUA_OIDC_ISSUERS`` cannot be read or is not valid; the message says why."""


class IssuerConfig(BaseModel):
    """One trusted identity provider and how its tokens map to a ``Caller``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(description="Exactly the tokens' 'iss' (https, or http on loopback)")
    audience: str | list[str] = Field(
        description="The 'aud' our tokens carry: the client id registered with the provider"
    )
    claims: dict[CallerField, str] = Field(
        default_factory=dict,
        description="Caller field -> the provider's claim name ('a.b' reads a nested claim); "
        "fields not named are read from the standard claims (phone from phone_number)",
    )
    default_role: str | None = Field(
        default=None,
        description="Role of a token without a role claim (e.g. citizen for the national portal)",
    )
    role_values: dict[str, str] = Field(
        default_factory=dict,
        description="The provider's role values -> ours (e.g. 'can_bo' -> 'officer'); "
        "the first value of a list that maps (or is one of ours) is the role",
    )
    algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256", "EdDSA"],
        description="Signature algorithms accepted from this issuer (asymmetric only)",
    )
    jwks_uri: str | None = Field(
        default=None, description="The JWKS's URL, for a provider without a discovery document"
    )

    @field_validator("issuer", "jwks_uri")
    @classmethod
    def secure_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value)
        loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
        if not url.hostname or not (url.scheme == "https" or (url.scheme == "http" and loopback)):
            raise ValueError(f"{value!r} must be an https URL (http only on loopback)")
        return value

    @field_validator("algorithms")
    @classmethod
    def asymmetric(cls, value: list[str]) -> list[str]:
        wrong = sorted(set(value) - ASYMMETRIC_ALGORITHMS)
        if wrong or not value:
            raise ValueError(
                f"not accepted: {wrong or 'none'}; choose among {sorted(ASYMMETRIC_ALGORITHMS)}"
            )
        return value

    @property
    def audiences(self) -> list[str]:
        return [self.audience] if isinstance(self.audience, str) else list(self.audience)

    def claim_of(self, field: str) -> str:
        for ours, theirs in self.claims.items():
            if ours == field:
                return theirs
        return STANDARD_CLAIMS[field]


_ISSUERS = TypeAdapter(list[IssuerConfig])


def load_issuers(value: str) -> list[IssuerConfig]:
    """The issuers of ``MOTCUA_OIDC_ISSUERS``: JSON (a list) or the path of a JSON file."""
    text = value.strip()
    if not text:
        return []
    source = "MOTCUA_OIDC_ISSUERS"
    if not text.startswith("["):
        path = Path(text)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise OidcConfigError(f"{source}: cannot read {path}: {error.strerror}") from None
        source = str(path)
    try:
        issuers = _ISSUERS.validate_json(text)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in error.errors()
        )
        raise OidcConfigError(f"{source} is not a valid list of issuers: {problems}") from None
    names = [i.issuer for i in issuers]
    if len(set(names)) != len(names):
        raise OidcConfigError(f"{source}: an issuer is listed twice")
    return issuers


Fetch = Callable[[str], Any]


def http_fetch(timeout: float) -> Fetch:
    """GET a JSON document (discovery, JWKS) with a timeout; no redirects to follow."""

    def fetch(url: str) -> Any:
        response = httpx.get(url, timeout=timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
        return response.json()

    return fetch


class IssuerKeys:
    """One issuer's signing keys: fetched when first needed, refreshed on an unknown kid
    (rate-limited) and when older than ``max_age``. Thread-safe."""

    def __init__(
        self,
        config: IssuerConfig,
        fetch: Fetch,
        *,
        refetch_seconds: float,
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.fetch = fetch
        self.refetch_seconds = refetch_seconds
        self.max_age_seconds = max_age_seconds
        self.clock = clock
        self.fetches = 0  # JWKS requests made (for the metrics and the tests)
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._jwks_uri = config.jwks_uri
        self._lock = threading.Lock()

    def key(
        self, kid: str | None, algorithm: str, *, rejected: jwt.PyJWK | None = None
    ) -> jwt.PyJWK:
        """The key named ``kid``; ``Unauthorized`` if the issuer does not publish it.

        A token without a kid is checked with the issuer's only key for its algorithm;
        ``rejected`` is that key when the signature did not verify with it: perhaps the
        provider rotated its key, so the keys are fetched again (as for an unknown kid)."""
        with self._lock:
            now = self.clock()
            if self._fetched_at is None or now - self._fetched_at >= self.max_age_seconds:
                self._refresh(now)
            found = self._find(kid, algorithm, rejected)
            assert self._fetched_at is not None
            if found is None and now - self._fetched_at >= self.refetch_seconds:
                self._refresh(now)  # perhaps the provider rotated its key
                found = self._find(kid, algorithm, rejected)
        if found is None and rejected is not None:
            raise Unauthorized(f"the token's signature does not verify ({self.config.issuer})")
        if found is None:
            named = f"key {kid!r}" if kid else "no key id (kid), and it publishes several"
            raise Unauthorized(
                f"the token is signed with a key {self.config.issuer} does not publish: {named}"
            )
        return found

    def _find(
        self, kid: str | None, algorithm: str, rejected: jwt.PyJWK | None
    ) -> jwt.PyJWK | None:
        if kid is not None:
            return self._keys.get(kid)
        usable = [k for k in self._keys.values() if k.algorithm_name == algorithm]
        if len(usable) != 1 or usable[0] is rejected:
            return None
        return usable[0]

    def _refresh(self, now: float) -> None:
        self.fetches += 1
        try:
            if self._jwks_uri is None:
                discovery = self.fetch(f"{self.config.issuer}/.well-known/openid-configuration")
                if not isinstance(discovery, Mapping) or not isinstance(
                    discovery.get("jwks_uri"), str
                ):
                    raise ValueError("the discovery document has no jwks_uri")
                self._jwks_uri = discovery["jwks_uri"]
            keys = _parse_jwks(self.fetch(self._jwks_uri))
        except (httpx.HTTPError, ValueError) as error:
            if self.config.jwks_uri is None:
                self._jwks_uri = None  # discover again next time
            if self._fetched_at is None:
                raise Unavailable(
                    f"cannot fetch the signing keys of {self.config.issuer}: {error}"
                ) from None
            log.warning("jwks refresh failed; keeping the keys", issuer=self.config.issuer,
                        error=str(error))  # fmt: skip
            self._fetched_at = now  # the rate limit holds for failures too
            return
        self._keys = keys
        self._fetched_at = now
        log.info("jwks fetched", issuer=self.config.issuer, kids=sorted(map(str, keys)))


def _parse_jwks(document: Any) -> dict[str | None, jwt.PyJWK]:
    """The signing keys of a JWKS by kid; keys we cannot use (encryption keys, unknown
    types) are skipped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS (no 'keys' list)")
    keys: dict[str | None, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(dict(entry))
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            continue
        if key.algorithm_name not in ASYMMETRIC_ALGORITHMS:
            continue  # a symmetric key in a JWKS is never ours to trust
        keys[entry.get("kid")] = key
    return keys


class OidcVerifier:
    """Verifies the tokens of the configured issuers; ``claims`` gives the Caller's fields."""

    def __init__(
        self,
        issuers: list[IssuerConfig],
        *,
        leeway_seconds: float = 60,
        refetch_seconds: float = 60,
        max_age_seconds: float = 3600,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.leeway_seconds = leeway_seconds
        get = fetch or http_fetch(5.0)
        self.issuers = {
            config.issuer: IssuerKeys(
                config,
                get,
                refetch_seconds=refetch_seconds,
                max_age_seconds=max_age_seconds,
                clock=clock,
            )
            for config in issuers
        }

    def trusts(self, issuer: str) -> bool:
        return issuer in self.issuers

    def verify(self, token: str, issuer: str) -> dict[str, Any]:
        """The Caller's fields from a token of ``issuer`` (its unverified 'iss'), mapped
        by the issuer's claim map; ``Unauthorized`` with the reason otherwise."""
        keys = self.issuers.get(issuer)
        if keys is None:
            raise Unauthorized(f"tokens of issuer {issuer!r} are not accepted here")
        config = keys.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise Unauthorized(f"invalid token: {error}") from None
        algorithm = header.get("alg")
        if algorithm not in config.algorithms:
            raise Unauthorized(
                f"the token's algorithm {algorithm!r} is not accepted from {issuer} "
                f"(accepted: {', '.join(config.algorithms)})"
            )
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        key = keys.key(kid, algorithm)
        try:
            claims = self._decode(token, key, algorithm, config)
        except jwt.InvalidSignatureError:
            if kid is not None:
                raise Unauthorized(f"the token's signature does not verify ({issuer})") from None
            key = keys.key(None, algorithm, rejected=key)  # fetched again, if not too soon
            try:
                claims = self._decode(token, key, algorithm, config)
            except jwt.InvalidSignatureError:
                raise Unauthorized(f"the token's signature does not verify ({issuer})") from None
        return mapped_claims(config, claims)

    def _decode(
        self, token: str, key: jwt.PyJWK, algorithm: str, config: IssuerConfig
    ) -> dict[str, Any]:
        """The verified claims; ``Unauthorized`` with the reason, except for a signature
        that does not verify (``InvalidSignatureError``: the caller may try another key)."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=config.audiences,
                issuer=config.issuer,
                leeway=self.leeway_seconds,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.InvalidSignatureError:
            raise
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.ImmatureSignatureError as error:
            raise Unauthorized(f"the token is not valid yet: {error}") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized(
                f"the token is not meant for this service (audience is not "
                f"{' or '.join(config.audiences)})"
            ) from None
        except jwt.InvalidIssuerError:
            raise Unauthorized(f"the token's issuer is not {config.issuer}") from None
        except jwt.InvalidTokenError as error:
            raise Unauthorized(f"invalid token: {error}") from None
        return claims


def mapped_claims(config: IssuerConfig, claims: Mapping[str, Any]) -> dict[str, Any]:
    """The Caller's fields from a provider's claims, through the issuer's claim map."""
    fields: dict[str, Any] = {}
    for field in STANDARD_CLAIMS:
        value = _claim(claims, config.claim_of(field))
        if value is not None:
            fields[field] = value
    role = _role(config, fields.pop("role", None))
    if role is not None:
        fields["role"] = role
    roles = fields.get("step_roles")
    if isinstance(roles, str):
        fields["step_roles"] = tuple(r for r in roles.replace(",", " ").split() if r)
    elif isinstance(roles, list):
        fields["step_roles"] = tuple(str(r) for r in roles)
    return fields


OUR_ROLES = ("citizen", "officer", "admin", "ministry", "inspector")


def _role(config: IssuerConfig, value: Any) -> str | None:
    values = value if isinstance(value, list) else [] if value is None else [value]
    for candidate in map(str, values):
        if candidate in config.role_values:
            return config.role_values[candidate]
        if candidate in OUR_ROLES:
            return candidate
    if values and not config.default_role:
        return str(values[0])  # refused by the Caller's validation, with the claim named
    return config.default_role


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def issuer_of(token: str) -> str | None:
    """The token's 'iss', unverified: only to choose how to verify it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


def dumps_issuers(issuers: list[IssuerConfig]) -> str:
    """``MOTCUA_OIDC_ISSUERS`` for these issuers (tests, examples)."""
    return json.dumps([i.model_dump(exclude_defaults=True) for i in issuers])
