"""Acceptance at the one-stop: the dossier's legal code and its appointment date.

Its own module because acceptance is where intake's writers race: every acceptance at
a unit on a day takes the next number of the same ``DailySequence``, so the command is
run again, with jitter, whenever another acceptance saved that sequence first (I-1).
The appointment is the procedure's time limit counted in working time from the moment
of acceptance, on the calendar in force (I-2; ``working_calendar.py``).
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from motcua.core.calendar import local_date
from motcua.core.retry import retry_on_conflict
from motcua.web.auth import Caller
from services.intake.domain import DailySequence
from services.intake.working_calendar import WorkingCalendarMixin

ACCEPT_ATTEMPTS = 50


class AcceptanceMixin(WorkingCalendarMixin):
    """``accept``: the code from the unit's daily sequence, and the appointment."""

    @retry_on_conflict(
        attempts=ACCEPT_ATTEMPTS,
        jitter=0.01,
        message="too many simultaneous acceptances at this unit; please try again",
    )
    def accept(self, caller: Caller, dossier_id: UUID, *, correlation_id: str) -> str:
        """Accept at the one-stop: assign the code and the appointment date (I-1, I-2).

        When another acceptance took the same number first, the save fails and the
        command starts again from loading the dossier and the sequence.
        """
        dossier = self._for_officer(caller, dossier_id)
        dossier.check_awaiting_acceptance("accept")
        now = self.clock()
        today = local_date(now)
        sequence = self._sequence(dossier.agency_code, today)
        sequence.issue(dossier.id)
        procedure = self.procedure(dossier.procedure_id)
        calendar = self.calendar()
        appointment = calendar.deadline(now, procedure.time_limit_working_days)
        dossier.receive(
            code=sequence.code_for_last(),
            received_at=now,
            appointment_date=appointment.date(),
            time_limit_working_days=procedure.time_limit_working_days,
            received_by=caller.sub,
            correlation_id=correlation_id,
            appointment_at=appointment,
            calendar_version=calendar.version,
        )
        self.save(sequence, dossier, writes=self._rows(dossier))
        assert dossier.code is not None
        return dossier.code

    def _sequence(self, agency_code: str, day: date) -> DailySequence:
        try:
            sequence: DailySequence = self.repository.get(DailySequence.create_id(agency_code, day))
        except AggregateNotFoundError:
            sequence = DailySequence(agency_code, day)
        return sequence
