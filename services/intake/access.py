"""Who may see a dossier and who may act on it: intake's access rules in one place.

Every feature asks the same questions of a dossier (is the caller its applicant, an
officer of its agency, an admin, or someone holding the lookup's credentials?), from
the aggregate before a command and from the dossier's view row in the lookup. The
answers must not differ between the two, so the rules are written once, here, over
``Parties``: what the rules read of a dossier, whichever way it was loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from motcua.core.errors import Forbidden
from motcua.web.auth import Caller
from services.intake.domain import Dossier

NO_MATCH = "no dossier matches that code and ID number"


@dataclass(frozen=True)
class Parties:
    """What the access rules ask of a dossier: its applicant's account and ID number,
    its agency and its code (from the aggregate, or from the dossier's view)."""

    account: str | None
    id_number: str
    agency_code: str
    code: str | None

    @classmethod
    def of(cls, dossier: Dossier) -> Parties:
        return cls(
            dossier.applicant.get("account"),
            dossier.applicant["id_number"],
            dossier.agency_code,
            dossier.code,
        )

    @classmethod
    def of_view(cls, document: dict[str, Any]) -> Parties:
        return cls(
            document["applicant_account"],
            document["applicant_id_number"],
            document["agency_code"],
            document["code"],
        )


def is_applicant(caller: Caller, parties: Parties) -> bool:
    return caller.role == "citizen" and parties.account == caller.sub


def is_officer_of(caller: Caller, parties: Parties) -> bool:
    return caller.role == "officer" and caller.agency == parties.agency_code


def is_party(caller: Caller | None, parties: Parties) -> bool:
    """The applicant, an officer of the dossier's agency, or an admin: sees everything."""
    return caller is not None and (
        caller.role == "admin" or is_applicant(caller, parties) or is_officer_of(caller, parties)
    )


def holds_lookup(parties: Parties, ref: str, id_number: str | None) -> bool:
    """The public lookup's credentials: the dossier's code and the applicant's ID number."""
    return id_number is not None and parties.code == ref and id_number.strip() == parties.id_number


def may_see(caller: Caller | None, parties: Parties, ref: str, id_number: str | None) -> bool:
    return is_party(caller, parties) or holds_lookup(parties, ref, id_number)


def check_agency(caller: Caller, agency_code: str) -> None:
    if caller.agency != agency_code:
        raise Forbidden(f"the dossier is at agency {agency_code}; you act for {caller.agency}")
