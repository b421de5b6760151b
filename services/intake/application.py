"""IntakeApplication: intake's one eventsourcing Application, assembled from its features.

Each feature is a mixin in its own module over ``IntakeBase`` (``base.py``: the store,
loading a dossier for a caller, saving it with its read-model rows), with the access
rules in ``access.py``:

* ``submission.py``: a new dossier, online or at the counter, once per idempotency key;
* ``acceptance.py``: acceptance at the one-stop, with the code and the appointment;
* ``working_calendar.py``: the days off, make-up days and office hours the appointment
  is counted in, as the administrator enters them;
* ``directory.py``: the agencies and the officers' step roles at each, as the
  administrator enters them;
* ``send_back.py``: sent back to complete and resubmitted, refused, withdrawn;
* ``ratings.py``: the applicant's rating and feedback, and the agency's answers;
* ``lookup.py``: the lookup, the applicant's and the agency's lists, prefill.

This module builds what they share and is the one class the rest of the code names.
"""

from __future__ import annotations

from collections.abc import Mapping

from eventsourcing.persistence import JSONTranscoder

from motcua.core.clock import Clock, system_clock
from motcua.core.transcoding import DateAsISO
from motcua.runtime.attachments import Attachments
from motcua.runtime.migrations import migrate
from motcua.runtime.store import Store
from motcua.runtime.working_calendar import CalendarReader
from services.catalogue.procedures import Catalogue
from services.intake.acceptance import AcceptanceMixin
from services.intake.directory import DirectoryMixin
from services.intake.domain import DailySequence
from services.intake.dossier_view import DossierViews
from services.intake.lookup import LookupMixin
from services.intake.progress import Progress
from services.intake.ratings import RatingsMixin
from services.intake.readmodel import INTAKE_TABLES, create_tables
from services.intake.send_back import SendBackMixin
from services.intake.submission import SubmissionMixin


class IntakeApplication(
    SubmissionMixin, AcceptanceMixin, SendBackMixin, RatingsMixin, LookupMixin, DirectoryMixin
):
    """Intake's commands and queries; every state change is an event in its store."""

    name = "intake"
    snapshotting_intervals = {DailySequence: 100}  # noqa: RUF012 (eventsourcing's API)

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        catalogue: Catalogue,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(env)
        self.catalogue = catalogue
        self.clock = clock or system_clock
        self.store = Store(self.recorder)  # type: ignore[arg-type]
        self.store.write(create_tables)
        migrate(self.store, INTAKE_TABLES)
        self.attachments = Attachments(self.store)
        self.progress = Progress(self.store)
        self.views = DossierViews(self, self.store)
        self.calendar_reader = CalendarReader(self.store)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
