"""Queries: the lookup of one dossier, the applicant's and the agency's lists, prefill.

Its own module because the queries read the read-model rows the commands write, never
the aggregate (but once, for a dossier saved before its view row existed), and decide
what each caller may see of them: everything for the parties, the public part for the
holder of the code and ID number, and for anyone else the same 404 whether the code
exists or not.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from motcua.core.errors import NotFound
from motcua.web.auth import Caller, agency_scope
from services.catalogue.procedures import ACCOUNT_CLAIMS
from services.intake.access import NO_MATCH, Parties, is_party, may_see
from services.intake.base import IntakeBase
from services.intake.domain import Dossier
from services.intake.dossier_view import timeline_entry


class LookupMixin(IntakeBase):
    """``lookup``, ``own_timeline``, ``list_for_applicant``, ``list_for_agency``, ``prefill``."""

    def lookup(self, caller: Caller | None, ref: str, id_number: str | None) -> dict[str, Any]:
        """The lookup's answer by id or code, if the caller may see it; ``NotFound`` otherwise.

        Read from the dossier's view row with the other services' reports, in one store
        snapshot; the form and the documents only for the parties. A dossier saved before
        those rows existed is built from the aggregate once, and its row kept. Strangers
        get the same answer for a wrong code as for a wrong ID number, so a lookup never
        reveals that a code exists.
        """
        found = self.views.find(ref)
        if found is not None and found.document is None:
            dossier = self._dossier(found.dossier_id)
            if may_see(caller, Parties.of(dossier), ref, id_number):
                self.views.keep(dossier, self.own_timeline(dossier))
                found = self.views.find(ref)
        if found is None or found.document is None:
            raise NotFound(NO_MATCH)
        parties = Parties.of_view(found.document)
        if not may_see(caller, parties, ref, id_number):
            raise NotFound(NO_MATCH)
        return found.answer(privileged=is_party(caller, parties))

    def own_timeline(self, dossier: Dossier) -> list[dict[str, Any]]:
        """Intake's events of the dossier as the public timeline shows them, up to the
        state loaded: never a newer one, so the document built with it is one state."""
        return [timeline_entry(e) for e in self.events.get(dossier.id, lte=dossier.version)]

    def list_for_applicant(self, account: str, limit: int, offset: int) -> list[dict[str, Any]]:
        return self.store.read(
            "SELECT * FROM {intake_dossiers} WHERE applicant_account = ? "
            "ORDER BY submitted_at DESC LIMIT ? OFFSET ?",
            (account, limit, offset),
        )

    def list_for_agency(
        self, caller: Caller, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """The one-stop queue of the caller's agency (all agencies for an admin)."""
        where, params = agency_scope(caller)
        if status:
            where.append("status = ?")
            params.append(status)
        return self.store.read(
            f"SELECT * FROM {{intake_dossiers}} WHERE {' AND '.join(where)} "
            "ORDER BY submitted_at ASC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

    def prefill(self, caller: Caller, procedure_id: str) -> dict[str, dict[str, Any]]:
        """Values for the procedure's form from the account and earlier dossiers (I-4)."""
        caller.require("citizen")
        procedure = self.procedure(procedure_id)
        account = {field: getattr(caller, claim) for field, claim in ACCOUNT_CLAIMS.items()}
        previous: dict[str, Any] = {}
        for row in reversed(self.list_for_applicant(caller.sub, 50, 0)):
            previous.update(self._dossier(UUID(row["id"])).form_data)
        result: dict[str, dict[str, Any]] = {}
        for spec in procedure.fields:
            if account.get(spec.name):
                value = account[spec.name]
                value = value.isoformat() if isinstance(value, date) else value
                result[spec.name] = {"value": value, "source": "account"}
            elif spec.name in previous:
                result[spec.name] = {"value": previous[spec.name], "source": "previous"}
        return result
