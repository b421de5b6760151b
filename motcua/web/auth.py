"""Bearer JWT authentication: who calls, in which role, for which agency.

Two kinds of tokens are accepted, told apart by their (unverified) ``iss``:

* the identity providers' (``MOTCUA_OIDC_ISSUERS``; RS256, ES256 or EdDSA, verified
  against each provider's published keys): see ``motcua.web.oidc``;
* HS256 tokens signed with the shared key ``MOTCUA_JWT_SECRET`` and issued by
  ``MOTCUA_JWT_ISSUER`` (``motcua``): ``motcua token`` prints them. The key is the
  documented dev key unless set; a service starts with it only in dev mode
  (``MOTCUA_DEV_MODE``), and an empty key switches HS256 off (``auth_problem``).
"""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError, field_validator

from motcua.core.errors import Forbidden, Unauthorized
from motcua.runtime.settings import DEV_JWT_SECRET, MIN_JWT_SECRET_BYTES
from motcua.web.oidc import OUR_ROLES, OidcConfigError, OidcVerifier, http_fetch, issuer_of
from motcua.web.oidc import load_issuers as load_oidc_issuers

if TYPE_CHECKING:
    from motcua.runtime.settings import Settings

Role = Literal["citizen", "officer", "admin", "ministry", "inspector"]
ROLES: tuple[Role, ...] = ("citizen", "officer", "admin", "ministry", "inspector")
assert ROLES == OUR_ROLES, "motcua.web.oidc maps providers' roles to these"


class Caller(BaseModel):
    """The authenticated caller, from the token's claims."""

    sub: str
    role: Role
    agency: str | None = None
    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    email: str | None = None
    birthdate: date | None = Field(
        default=None, description="OpenID Connect's standard claim, YYYY-MM-DD"
    )
    address: str | None = Field(
        default=None,
        description="Place of residence: OpenID Connect's address claim (its 'formatted' part)",
    )
    step_roles: tuple[str, ...] = Field(
        default=(),
        description="An officer's roles in the procedures' steps (mot_cua, chuyen_vien, lanh_dao)",
    )

    @field_validator("address", mode="before")
    @classmethod
    def formatted_address(cls, value: Any) -> Any:
        """OpenID Connect sends the address as an object; we keep its formatted text."""
        return value.get("formatted") if isinstance(value, dict) else value

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(f"this action needs role {' or '.join(roles)}; you are {self.role}")


def agency_scope(caller: Caller, column: str = "agency_code") -> tuple[list[str], list[Any]]:
    """SQL conditions for an agency queue: an officer sees their agency, an admin all."""
    caller.require("officer", "admin")
    if caller.role == "officer":
        return [f"{column} = ?"], [caller.agency]
    return ["1 = 1"], []


def issue_token(
    secret: str,
    *,
    sub: str,
    role: Role,
    agency: str | None = None,
    name: str | None = None,
    issuer: str = "motcua",
    ttl_seconds: int = 8 * 3600,
    **profile: Any,
) -> str:
    """A signed token; ``profile`` adds claims such as id_number, phone, email."""
    if role == "officer" and not agency:
        raise ValueError("an officer token needs an agency code")
    now = int(time.time())
    claims = {"sub": sub, "role": role, "iss": issuer, "iat": now, "exp": now + ttl_seconds}
    if agency:
        claims["agency"] = agency
    if name:
        claims["name"] = name
    claims.update({k: v for k, v in profile.items() if v})
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_token(secret: str, token: str, *, issuer: str = "motcua") -> Caller:
    """The caller named by a valid token; ``Unauthorized`` with the reason otherwise."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], issuer=issuer, options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except jwt.InvalidTokenError as error:
        raise Unauthorized(f"invalid token: {error}") from None
    return caller_from_claims(claims)


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    """The Caller of verified claims; ``Unauthorized`` naming the claims that are wrong."""
    try:
        caller = Caller.model_validate(claims, strict=False, from_attributes=False)
    except ValidationError as error:
        bad = ", ".join(sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]}))
        raise Unauthorized(f"the token's claims are not valid: {bad}") from None
    if caller.role == "officer" and not caller.agency:
        raise Unauthorized("an officer token must carry an agency")
    return caller


class AuthSettingsError(ValueError):
    """The authentication settings would let a service start unsafely, or not at all."""


class Authenticator:
    """Verifies a bearer token as the settings say: HS256 with the shared key for its
    issuer, the OIDC issuers' tokens against their keys, nothing else."""

    def __init__(self, settings: Settings) -> None:
        self.secret = settings.jwt_secret.get_secret_value()
        self.issuer = settings.jwt_issuer
        try:
            issuers = load_oidc_issuers(settings.oidc_issuers)
        except OidcConfigError as error:
            raise AuthSettingsError(str(error)) from None
        for config in issuers:
            roles = {config.default_role, *config.role_values.values()} - {None}
            if wrong := sorted(str(r) for r in roles if r not in ROLES):
                raise AuthSettingsError(
                    f"issuer {config.issuer}: unknown roles {wrong}; ours are {', '.join(ROLES)}"
                )
            if config.issuer == self.issuer:
                raise AuthSettingsError(
                    f"issuer {config.issuer} is also MOTCUA_JWT_ISSUER, the HS256 tokens' issuer"
                )
        self.oidc = OidcVerifier(
            issuers,
            leeway_seconds=settings.oidc_leeway_seconds,
            refetch_seconds=settings.oidc_jwks_refetch_seconds,
            max_age_seconds=settings.oidc_jwks_max_age_seconds,
            fetch=http_fetch(settings.oidc_http_timeout_seconds),
        )

    def verify(self, token: str) -> Caller:
        issuer = issuer_of(token)
        if issuer is None:
            raise Unauthorized("invalid token: not a JWT with an issuer (iss)")
        if issuer == self.issuer:
            if not self.secret:
                raise Unauthorized(
                    f"tokens of {issuer} (HS256, shared key) are switched off here; "
                    "sign in with the identity provider"
                )
            return verify_token(self.secret, token, issuer=self.issuer)
        if not self.oidc.trusts(issuer):
            raise Unauthorized(f"tokens of issuer {issuer!r} are not accepted here")
        return caller_from_claims(self.oidc.verify(token, issuer))


def auth_problem(settings: Settings) -> str | None:
    """Why a service must not start with these settings, or None.

    The dev key is public (it is in this file's repository): accepted only in dev mode.
    A shorter HS256 key than 32 bytes is refused always. With an empty key, HS256 is off
    and the OIDC issuers must be configured, or nobody could sign in."""
    secret = settings.jwt_secret.get_secret_value()
    if secret == DEV_JWT_SECRET and not settings.dev_mode:
        return (
            "MOTCUA_JWT_SECRET is the public dev key and dev mode is off: set "
            f"MOTCUA_JWT_SECRET to a random key of at least {MIN_JWT_SECRET_BYTES} bytes "
            "(e.g. `openssl rand -hex 32`), or to empty to accept only the identity "
            "providers' tokens (MOTCUA_OIDC_ISSUERS); MOTCUA_DEV_MODE=true is for "
            "development and tests only"
        )
    if secret and len(secret.encode()) < MIN_JWT_SECRET_BYTES:
        return (
            f"MOTCUA_JWT_SECRET is {len(secret.encode())} bytes long; an HS256 key needs "
            f"at least {MIN_JWT_SECRET_BYTES} (e.g. `openssl rand -hex 32`)"
        )
    try:
        authenticator = Authenticator(settings)
    except AuthSettingsError as error:
        return str(error)
    if not secret and not authenticator.oidc.issuers:
        return (
            "no way to sign in: MOTCUA_JWT_SECRET is empty (HS256 off) and "
            "MOTCUA_OIDC_ISSUERS names no identity provider"
        )
    return None


_bearer = HTTPBearer(
    auto_error=False,
    description="JWT from the province's identity provider, the national portal, "
    "or `motcua token` (dev mode)",
)
_building = threading.Lock()


def authenticator_of(state: Any) -> Authenticator:
    """The app's Authenticator (its keys' cache), built on first use from its settings."""
    found: Authenticator | None = getattr(state, "authenticator", None)
    if found is None:
        with _building:
            found = getattr(state, "authenticator", None)
            if found is None:
                found = state.authenticator = Authenticator(state.settings)
    return found


def optional_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller | None:
    """A plain function: FastAPI runs it in its thread pool, so fetching an identity
    provider's keys (motcua.web.oidc) never blocks the event loop."""
    if credentials is None:
        return None
    caller = authenticator_of(request.app.state).verify(credentials.credentials)
    request.state.caller = caller  # who called, for the access log (access_log.py)
    return caller


def required_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    if caller is None:
        raise Unauthorized("sign in: send 'Authorization: Bearer <token>'")
    return caller


OptionalCallerDep = Annotated[Caller | None, Depends(optional_caller)]
CallerDep = Annotated[Caller, Depends(required_caller)]
