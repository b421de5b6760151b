"""The other ways out of the acceptance queue: sent back, refused or withdrawn.

Its own module because these are the turns a dossier takes instead of acceptance, each
with its reason for the applicant: the one-stop officer sends it back to be completed
(the applicant resubmits it, and it awaits acceptance again) or refuses it; the
applicant withdraws it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from motcua.core.errors import NotFound
from motcua.web.auth import Caller
from services.intake.access import Parties, is_applicant, is_officer_of
from services.intake.base import IntakeBase
from services.intake.forms import check_form


class SendBackMixin(IntakeBase):
    """``request_completion``, ``resubmit``, ``refuse`` and ``withdraw``."""

    def request_completion(
        self,
        caller: Caller,
        dossier_id: UUID,
        *,
        reason: str,
        missing_documents: list[str],
        correlation_id: str,
    ) -> None:
        dossier = self._for_officer(caller, dossier_id)
        dossier.request_completion(
            reason=reason,
            missing_documents=missing_documents,
            requested_by=caller.sub,
            correlation_id=correlation_id,
        )
        self.save(dossier, writes=self._rows(dossier))

    def resubmit(
        self,
        caller: Caller,
        dossier_id: UUID,
        *,
        form_data: dict[str, Any],
        documents: list[dict[str, str]],
        correlation_id: str,
    ) -> None:
        dossier = self._dossier(dossier_id)
        parties = Parties.of(dossier)
        if not is_applicant(caller, parties) and not is_officer_of(caller, parties):
            raise NotFound("no such dossier")
        procedure = self.procedure(dossier.procedure_id)
        dossier.resubmit(
            form_data=check_form(procedure, form_data),
            documents=self._documents(procedure, documents),
            resubmitted_by=caller.sub,
            correlation_id=correlation_id,
        )
        self.save(dossier, writes=self._rows(dossier))

    def refuse(self, caller: Caller, dossier_id: UUID, *, reason: str, correlation_id: str) -> None:
        dossier = self._for_officer(caller, dossier_id)
        dossier.refuse(reason=reason, refused_by=caller.sub, correlation_id=correlation_id)
        self.save(dossier, writes=self._rows(dossier))

    def withdraw(
        self, caller: Caller, dossier_id: UUID, *, reason: str, correlation_id: str
    ) -> None:
        dossier = self._dossier(dossier_id)
        if not is_applicant(caller, Parties.of(dossier)):
            raise NotFound("no such dossier")
        dossier.withdraw(reason=reason, withdrawn_by=caller.sub, correlation_id=correlation_id)
        self.save(dossier, writes=self._rows(dossier))
