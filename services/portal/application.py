"""PortalApplication: keeps the national portal's record of each dossier up to date.

It consumes ``dossier-events``. ``DossierReceived`` opens a dossier's record (the
portal learns of a dossier once the one-stop has given it its code); each later event
that changes what the portal holds (record.py) records a new version, in the unit of
work that records the consumer's positions, so every version is made exactly once. A
separate loop (sync.py) sends each dossier's latest version to the portal; queries.py
is what operators see.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from contracts.envelope import Envelope
from contracts.intake import DossierReceived
from motcua.runtime.handlers import Handlers
from motcua.runtime.store import Store
from motcua.runtime.unit_of_work import UnitOfWork
from services.portal.adapter import Portal
from services.portal.domain import PortalDossier
from services.portal.queries import QueriesMixin
from services.portal.readmodel import create_tables, record_row
from services.portal.record import CHANGES, apply, opened, status_table
from services.portal.settings import PortalSettings
from services.portal.sync import SyncMixin, now


class PortalApplication(SyncMixin, QueriesMixin):
    name = "portal"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        settings: PortalSettings,
        portal: Portal,
        result_base_url: str | None = None,
    ) -> None:
        super().__init__(env)
        self.settings, self.portal = settings, portal
        self.result_base_url = result_base_url
        self.table = status_table()
        self.store = Store(self.recorder)  # type: ignore[arg-type]
        self.store.write(create_tables)
        self.instance = f"{os.uname().nodename}:{os.getpid()}"
        self._stopping = threading.Event()
        self._senders = ThreadPoolExecutor(settings.portal_senders, thread_name_prefix="portal")

    def handlers(self) -> Handlers:
        return Handlers({DossierReceived: self.open, CHANGES: self.change})

    def open(self, event: DossierReceived, uow: UnitOfWork) -> None:
        if uow.get(event.dossier_id, PortalDossier) is not None:
            return
        dossier = PortalDossier(dossier_id=event.dossier_id, record=opened(event, self.table))
        uow.save(dossier, writes=[record_row(dossier, now())])

    def change(self, event: Envelope, uow: UnitOfWork) -> None:
        dossier = uow.get(event.dossier_id, PortalDossier)
        if dossier is None:
            return  # a dossier not received yet (fees are assessed at acceptance too)
        record = apply(dossier.record, event, self.table, self.result_base_url)
        if record == dossier.record:
            return
        dossier.change(record=record)
        uow.save(dossier, writes=[record_row(dossier, now())])

    def close(self) -> None:
        self._senders.shutdown(wait=False, cancel_futures=True)
        super().close()
