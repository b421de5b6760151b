"""WorkflowApplication: runs each dossier's electronic process and keeps its clock.

It reacts to ``DossierReceived`` (start the process) and ``PaymentSucceeded`` /
``FeeWaived`` (open the payment gate) from ``dossier-events``, and to officers and
applicants over HTTP. Every save also writes the process's queue row and, for
consumed events, the consumer's positions: one transaction each time.

This module assembles the one eventsourcing ``Application`` from its features, each in
a module of its own (all build on services/workflow/base.py):

- policy.py: the consumer policy (received dossiers start processes; payments);
- steps.py: officers' step commands (claim, complete, hand over, approve, reject);
- supplements.py: supplements and withdrawal;
- results.py: results and their documents, and the public check of a copy;
- deadlines.py: the overdue clock and apologies;
- queries.py: the agency queue, the timeline, a process and its history.
"""

from __future__ import annotations

from eventsourcing.persistence import JSONTranscoder

from motcua.core.clock import Clock, system_clock
from motcua.core.transcoding import DateAsISO
from motcua.runtime.attachments import Attachments
from motcua.runtime.migrations import migrate
from motcua.runtime.store import Store
from motcua.runtime.working_calendar import CalendarReader
from services.catalogue.procedures import Catalogue
from services.workflow.deadlines import DeadlinesMixin
from services.workflow.policy import ConsumerPolicyMixin
from services.workflow.queries import QueriesMixin
from services.workflow.readmodel import WORKFLOW_TABLES, create_tables
from services.workflow.results import ResultsMixin
from services.workflow.steps import OfficerStepsMixin
from services.workflow.supplements import SupplementsAndWithdrawalMixin
from services.workflow.timeline import Timelines


class WorkflowApplication(
    ConsumerPolicyMixin,
    OfficerStepsMixin,
    SupplementsAndWithdrawalMixin,
    ResultsMixin,
    DeadlinesMixin,
    QueriesMixin,
):
    """Commands and queries of the process; the clock that marks late dossiers."""

    name = "workflow"

    def __init__(
        self, env: dict[str, str] | None = None, *, catalogue: Catalogue, clock: Clock | None = None
    ) -> None:
        super().__init__(env)
        self.catalogue = catalogue
        self.clock = clock or system_clock
        self.store = Store(self.recorder)  # type: ignore[arg-type]
        self.store.write(create_tables)
        migrate(self.store, WORKFLOW_TABLES)
        self.calendar_reader = CalendarReader(self.store)
        self.timelines = Timelines(self, self.store)
        self.attachments = Attachments(self.store)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
