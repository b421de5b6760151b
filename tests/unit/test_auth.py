"""Bearer JWT authentication (motcua/web/auth.py): issuing, verifying and role checks."""

from __future__ import annotations

import pytest

from motcua.core.errors import Forbidden, Unauthorized
from motcua.web.auth import Caller, issue_token, verify_token

SECRET = "test-secret-with-at-least-32-bytes!!"
OTHER_SECRET = "another-secret-with-at-least-32-bytes"


def test_verified_token_keeps_role_agency_and_profile_claims() -> None:
    token = issue_token(
        SECRET,
        sub="officer-7",
        role="officer",
        agency="000.00.31.H23",
        name="Trần Thị Bình",
        id_number="001190054321",
        phone="0912345678",
    )

    caller = verify_token(SECRET, token)

    assert caller == Caller(
        sub="officer-7",
        role="officer",
        agency="000.00.31.H23",
        name="Trần Thị Bình",
        id_number="001190054321",
        phone="0912345678",
    )


def test_expired_token_is_unauthorized() -> None:
    token = issue_token(SECRET, sub="citizen-1", role="citizen", ttl_seconds=-10)

    with pytest.raises(Unauthorized, match="expired"):
        verify_token(SECRET, token)


def test_token_signed_with_another_secret_is_unauthorized() -> None:
    token = issue_token(OTHER_SECRET, sub="citizen-1", role="citizen")

    with pytest.raises(Unauthorized, match="invalid token"):
        verify_token(SECRET, token)


def test_token_from_another_issuer_is_unauthorized() -> None:
    token = issue_token(SECRET, sub="citizen-1", role="citizen", issuer="elsewhere")

    with pytest.raises(Unauthorized, match="invalid token"):
        verify_token(SECRET, token)


def test_officer_token_without_agency_cannot_be_issued() -> None:
    secret = SECRET

    with pytest.raises(ValueError, match="needs an agency"):
        issue_token(secret, sub="officer-7", role="officer")


def test_caller_with_the_wrong_role_is_forbidden() -> None:
    caller = Caller(sub="citizen-1", role="citizen")

    with pytest.raises(Forbidden, match="needs role officer or admin; you are citizen"):
        caller.require("officer", "admin")


def test_caller_with_an_allowed_role_passes() -> None:
    caller = Caller(sub="officer-7", role="officer", agency="000.00.31.H23")

    caller.require("officer", "admin")  # fails the test by raising Forbidden
