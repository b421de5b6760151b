"""What every feature of ``IntakeApplication`` stands on: the one event store, loading a
dossier for a caller, and saving it with its read-model rows.

The features (submission, acceptance, send-back, ratings, lookup) are mixins of this
class so that they share one eventsourcing ``Application``, one store and one set of
rules for loading a dossier; ``application.py`` assembles them and builds the parts
declared here. Commands save a dossier together with its lookup row
(``intake_dossiers``) and its view (``intake_dossier_views``) in one transaction
(``_rows``), so the lookup tables can never disagree with the events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from motcua.core.clock import Clock
from motcua.core.errors import NotFound
from motcua.runtime.attachments import Attachments
from motcua.runtime.store import Store, Write
from motcua.web.auth import Caller
from services.catalogue.procedures import Catalogue, Procedure
from services.intake.access import NO_MATCH, Parties, check_agency, may_see
from services.intake.domain import Dossier
from services.intake.dossier_view import DossierViews
from services.intake.forms import check_documents
from services.intake.progress import Progress
from services.intake.readmodel import dossier_row

L = TypeVar("L")


class IntakeBase(Application[UUID]):
    """Intake's store and the loading and saving that all its commands and queries share."""

    # Built by IntakeApplication.__init__.
    catalogue: Catalogue
    clock: Clock
    store: Store
    attachments: Attachments
    progress: Progress
    views: DossierViews

    # -- attachments ------------------------------------------------------------------

    def store_attachment(self, data: bytes, content_type: str, uploaded_by: str) -> dict[str, Any]:
        """Keep a scanned document once, named by the SHA-256 of its content (I-5)."""
        return self.attachments.put(data, content_type, uploaded_by, self.clock())

    def _documents(self, procedure: Procedure, refs: list[dict[str, str]]) -> list[dict[str, Any]]:
        check_documents(procedure, [r["document_id"] for r in refs])
        return self.attachments.describe(refs)

    # -- loading ----------------------------------------------------------------------

    def procedure(self, procedure_id: str) -> Procedure:
        """The catalogue entry, or ``NotFound``."""
        return self.catalogue.require(procedure_id)

    def find(self, ref: str, caller: Caller | None, id_number: str | None) -> Dossier:
        """The dossier by id or code, if the caller may see it (as for the lookup), for
        the commands and the receipt; ``NotFound`` otherwise."""
        row = self.store.read_one(
            "SELECT id FROM {intake_dossiers} WHERE code = ? OR id = ?", (ref, ref)
        )
        dossier = self._dossier(UUID(row["id"])) if row else None
        if dossier is None or not may_see(caller, Parties.of(dossier), ref, id_number):
            raise NotFound(NO_MATCH)
        return dossier

    def _log_or_new(self, log_id: UUID, new: Callable[[], L]) -> L:
        """A well-known log aggregate (the working calendar, the directory), or a new one
        before its first change."""
        try:
            log: L = self.repository.get(log_id)
        except AggregateNotFoundError:
            log = new()
        return log

    def _dossier(self, dossier_id: UUID) -> Dossier:
        try:
            dossier: Dossier = self.repository.get(dossier_id)
        except AggregateNotFoundError:
            raise NotFound("no such dossier") from None
        return dossier

    def _for_officer(self, caller: Caller, dossier_id: UUID) -> Dossier:
        caller.require("officer")
        dossier = self._dossier(dossier_id)
        check_agency(caller, dossier.agency_code)
        return dossier

    # -- saving -----------------------------------------------------------------------

    def _rows(self, dossier: Dossier) -> list[Write]:
        """The dossier's read-model rows: its lookup row and its view."""
        return [dossier_row(dossier), self.views.row(dossier)]
