"""NotifyApplication: plans notices from dossier events and delivers them, once.

Planning happens in the consumer's transaction: the dossier's contact facts, the new
notices and the consumer's positions are committed together. Delivery is a separate
loop over due notices: record the attempt, send, record the outcome; failures are
retried with exponential backoff and jitter, from the store, so restarts lose nothing.

This module assembles the one eventsourcing ``Application`` from its features, each in
a module of its own (all build on services/notify/base.py):

- planning.py: the consumer policy, which notices the events produce;
- delivery.py: rounds of due notices, the senders' threads, leases and retries;
- inbox.py: the citizen's inbox and the operators' notice list.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from motcua.core.clock import Clock, system_clock
from motcua.runtime.store import Store
from services.catalogue.procedures import Catalogue
from services.notify.channels import Channel
from services.notify.delivery import DeliveryMixin
from services.notify.inbox import InboxAndOperatorsMixin
from services.notify.planning import PlanningMixin
from services.notify.readmodel import create_tables
from services.notify.rules import Rules
from services.notify.settings import NotifySettings


class NotifyApplication(PlanningMixin, DeliveryMixin, InboxAndOperatorsMixin):
    name = "notify"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        settings: NotifySettings,
        channels: dict[str, Channel],
        catalogue: Catalogue,
        public_base_url: str,
        workflow_public_url: str | None = None,
        rules: Rules | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(env)
        self.settings, self.channels, self.catalogue = settings, channels, catalogue
        self.public_base_url = public_base_url.rstrip("/")
        self.workflow_public_url = workflow_public_url.rstrip("/") if workflow_public_url else None
        self.rules = rules or Rules()
        self.clock = clock or system_clock
        self.store = Store(self.recorder)  # type: ignore[arg-type]
        self.store.write(create_tables)
        self._stopping = threading.Event()
        # Threads start when first needed and wait idle between rounds.
        self._senders = ThreadPoolExecutor(
            max(1, settings.notify_senders), thread_name_prefix="notify-send"
        )

    def close(self) -> None:
        self._senders.shutdown(wait=False, cancel_futures=True)
        super().close()
