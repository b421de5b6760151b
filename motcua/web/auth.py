"""Bearer JWT authentication: who calls, in which role, for which agency.

Tokens are HS256-signed with the configured secret. ``motcua token`` prints dev
tokens signed with the dev key; production sets ``MOTCUA_JWT_SECRET``.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError, field_validator

from motcua.core.errors import Forbidden, Unauthorized

Role = Literal["citizen", "officer", "admin", "ministry", "inspector"]
ROLES: tuple[Role, ...] = ("citizen", "officer", "admin", "ministry", "inspector")


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
    try:
        caller = Caller.model_validate(claims, strict=False, from_attributes=False)
    except ValidationError as error:
        bad = ", ".join(sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]}))
        raise Unauthorized(f"the token's claims are not valid: {bad}") from None
    if caller.role == "officer" and not caller.agency:
        raise Unauthorized("an officer token must carry an agency")
    return caller


_bearer = HTTPBearer(
    auto_error=False, description="JWT from the provincial portal or `motcua token`"
)


def optional_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller | None:
    if credentials is None:
        return None
    settings = request.app.state.settings
    caller = verify_token(
        settings.jwt_secret.get_secret_value(), credentials.credentials, issuer=settings.jwt_issuer
    )
    request.state.caller = caller  # who called, for the access log (access_log.py)
    return caller


def required_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    if caller is None:
        raise Unauthorized("sign in: send 'Authorization: Bearer <token>'")
    return caller


OptionalCallerDep = Annotated[Caller | None, Depends(optional_caller)]
CallerDep = Annotated[Caller, Depends(required_caller)]
