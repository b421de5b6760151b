"""InteragencyApplication: decides what the inter-agency feeds say, once per event.

It consumes ``dossier-events``. A dossier is forwarded when its procedure's process
involves more than one agency or a configured ministry receives it; that is decided
when it is received (``DossierReceived``), with the configuration of that moment, so a
ministry always gets a dossier's whole story or none of it. Each later event of a
forwarded dossier becomes one ``Forwarded`` event of its ``ForwardedDossier``, saved
with the consumer's positions in one transaction (``motcua/runtime/consumer.py``).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application

from contracts.envelope import Envelope
from contracts.intake import DossierReceived
from contracts.interagency import InteragencyEvent
from motcua.runtime.handlers import Handlers
from motcua.runtime.store import Store
from motcua.runtime.unit_of_work import UnitOfWork
from services.catalogue.procedures import Catalogue, Procedure
from services.interagency.curation import RULES, curate, curate_received, disclose
from services.interagency.domain import ForwardedDossier
from services.interagency.ministries import Ministry


class InteragencyApplication(Application[UUID]):
    name = "interagency"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        catalogue: Catalogue,
        ministries: tuple[Ministry, ...],
    ) -> None:
        super().__init__(env)
        self.catalogue = catalogue
        self.ministries = {m.code: m for m in ministries}
        self.store = Store(self.recorder)  # type: ignore[arg-type]

    def receivers(self, procedure: Procedure) -> list[str]:
        """Codes of the configured ministries that receive dossiers of ``procedure``."""
        return [code for code, m in self.ministries.items() if m.receives(procedure)]

    def forwards(self, procedure: Procedure) -> bool:
        """Inter-agency dossiers, and those of procedures a ministry receives."""
        return len(procedure.agencies) > 1 or bool(self.receivers(procedure))

    def handlers(self) -> Handlers:
        """The events curated for ministries; the others are only tracked."""
        return Handlers({tuple({DossierReceived, *RULES}): self.forward})

    def forward(self, event: Envelope, uow: UnitOfWork) -> None:
        """Record the curated event of a forwarded dossier."""
        if isinstance(event, DossierReceived):
            dossier = self._open(event, uow)
        else:
            dossier = uow.get(event.dossier_id, ForwardedDossier)
        if dossier is None or dossier.has_forwarded(event.event_id):
            return
        curated = self._curate(event, dossier)
        if curated is None:
            return
        dossier.forward(
            source_event_id=str(event.event_id),
            message=curated.model_dump(mode="json"),
            disclosed={code: self._disclosed(event, code) for code in dossier.ministries},
        )
        uow.save(dossier)

    def _open(self, event: DossierReceived, uow: UnitOfWork) -> ForwardedDossier | None:
        existing = uow.get(event.dossier_id, ForwardedDossier)
        if existing is not None:
            return existing
        procedure = self.catalogue.get(event.procedure_id)
        if procedure is None or not self.forwards(procedure):
            return None
        return ForwardedDossier(
            dossier_id=event.dossier_id,
            code=event.code,
            procedure_id=procedure.id,
            ministries=self.receivers(procedure),
        )

    def _curate(self, event: Envelope, dossier: ForwardedDossier) -> InteragencyEvent | None:
        if isinstance(event, DossierReceived):
            procedure = self.catalogue.get(event.procedure_id)
            assert procedure is not None  # checked by _open
            return curate_received(event, procedure)
        return curate(event, dossier.view())

    def _disclosed(self, event: Envelope, ministry: str) -> dict[str, object]:
        m = self.ministries.get(ministry)
        return disclose(event, frozenset(m.fields)) if m else {}
