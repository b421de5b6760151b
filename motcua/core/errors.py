"""Error kinds shared by all services; ``motcua.web.http`` maps each kind to one status code."""

from __future__ import annotations


class DomainError(Exception):
    """A request the rules refuse; the message is shown to the caller as is."""

    code = "domain_error"

    def __init__(self, message: str, *, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Unauthorized(DomainError):
    code = "unauthorized"


class Conflict(DomainError):
    """The request is valid but not in the dossier's current state (e.g. accept twice)."""

    code = "conflict"


class Invalid(DomainError):
    """The request's content breaks a rule (a missing document, a wrong field format)."""

    code = "invalid"


class LimitReached(DomainError):
    code = "limit_reached"


class Unavailable(DomainError):
    """A system we depend on (such as the payment gateway) cannot be reached; retry later."""

    code = "unavailable"
