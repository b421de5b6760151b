"""What the features of ``PortalApplication`` share: its settings, store, adapter and
status table. ``PortalApplication.__init__`` (application.py) sets them."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application

from motcua.runtime.store import Store
from services.portal.adapter import Portal
from services.portal.record import StatusTable
from services.portal.settings import PortalSettings


class PortalBase(Application[UUID]):
    settings: PortalSettings
    portal: Portal
    store: Store
    table: StatusTable
    result_base_url: str | None
