"""The statistics rules: how each contract event changes a dossier's statistics row.

Pure logic, no I/O, so that the live consumer and a replay apply exactly the same rules
and a replay gives the same rows. Events are taken as the JSON form of the contract
(``Envelope.model_dump(mode="json")`` live, ``json.loads`` of the Kafka message in a
replay): the replay path never pays for pydantic validation.

Two kinds of rows:

* ``DossierStats``, one per received dossier: what the province-wide figures count;
* ``AgencySteps``, one per (dossier, agency that had steps of it): what an agency's
  own figures count in an inter-agency (liên thông) dossier.

Events of dossiers never received (refused or withdrawn before acceptance) are ignored,
and so are event types the contracts do not define (as ``contracts.events.decode`` does
for the live consumer). A rating (``DossierRated``, from intake) counts in the year the
dossier was received, like every other figure of the dossier.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from contracts.envelope import Envelope
from motcua.core.calendar import local_date
from services.stats.facts import (
    FACT_TYPES,
    FEEDBACK_TYPES,
    Dossier,
    Feedback,
    apply_facts,
    apply_feedback,
    instant,
)
from services.stats.timeliness import timeliness_of

Event = Mapping[str, Any]
Status = Literal["in_progress", "resolved", "refused", "withdrawn"]


@dataclass(slots=True)
class DossierStats:
    """What the figures need to know of one received dossier."""

    dossier_id: str
    year: int
    procedure_id: str
    procedure_name: str
    level: int
    channel: str
    agency_code: str  # the receiving agency
    appointment_date: str  # ISO date: the latest appointment (moved by supplements, apologies)
    status: str = "in_progress"
    timeliness: str | None = None
    paused: bool = False
    overdue: bool = False
    late_agency: str | None = None
    fees_vnd: int = 0
    rating: int | None = None
    rated_at: str | None = None
    updated_at: str = ""
    # The statutory appointment: the receipt's, moved only by supplements (never by an
    # apology); the moment (``facts.instant`` text) when the receipt gave one, else None
    # and the date decides.
    statutory_date: str | None = None
    statutory_at: str | None = None
    apologised: bool = False


@dataclass(slots=True)
class AgencySteps:
    """The steps of one dossier at one agency (started, done, done late, overdue)."""

    dossier_id: str
    agency_code: str
    year: int
    procedure_id: str
    level: int
    channel: str
    steps: int = 0
    steps_done: int = 0
    steps_late: int = 0
    steps_overdue: int = 0


def as_event(event: Envelope | Event) -> Event:
    """The JSON form of a contract event (a dict passes through unchanged)."""
    if isinstance(event, Envelope):
        return event.model_dump(mode="json")
    return event


# -- dossier rules ----------------------------------------------------------------------


def _instant_or_none(value: str | None) -> str | None:
    """A moment as ``facts.instant`` text, so that the figures compare it as text."""
    return None if value is None else instant(value)


def received(e: Event) -> DossierStats:
    """The row a ``DossierReceived`` creates: the year is the local year of receipt."""
    at = datetime.fromisoformat(e["received_at"])
    return DossierStats(
        dossier_id=e["dossier_id"],
        year=local_date(at).year,
        procedure_id=e["procedure_id"],
        procedure_name=e["procedure_name"],
        level=int(e["level"]),
        channel=e["channel"],
        agency_code=e["agency_code"],
        appointment_date=e["appointment_date"],
        updated_at=e["occurred_at"],
        statutory_date=e["appointment_date"],
        statutory_at=_instant_or_none(e.get("appointment_at")),
    )


def _finish(status: Status) -> Callable[[DossierStats, Event], None]:
    """The first outcome stands: a dossier that has one is not given another.

    Timeliness is against the lawful appointment: an apology does not erase lateness
    (``timeliness_of``). Supplements move the lawful appointment itself."""

    def rule(s: DossierStats, e: Event) -> None:
        if s.status == "in_progress":
            s.status = status
            if status == "resolved":
                s.timeliness = timeliness_of(e, s.overdue, s.statutory_date, s.statutory_at)

    return rule


def _supplement_requested(s: DossierStats, e: Event) -> None:
    s.paused = True


def _supplement_provided(s: DossierStats, e: Event) -> None:
    s.appointment_date, s.paused = e["appointment_date"], False
    # A moved moment only when the event gives one: a date alone makes the old moment stale.
    s.statutory_date, s.statutory_at = (
        e["appointment_date"],
        _instant_or_none(e.get("appointment_at")),
    )


def _overdue(s: DossierStats, e: Event) -> None:
    s.late_agency, s.overdue = e["responsible_agency"], True


def _apology(s: DossierStats, e: Event) -> None:
    """The applicant's new date; the statutory appointment, and lateness, stay."""
    s.appointment_date, s.apologised = e["appointment_date"], True


def _paid(s: DossierStats, e: Event) -> None:
    s.fees_vnd += int(e["amount_vnd"])


def _refunded(s: DossierStats, e: Event) -> None:
    s.fees_vnd -= int(e["amount_vnd"])


def _rated(s: DossierStats, e: Event) -> None:
    """The first rating stands (intake allows one), so a dossier is never counted twice."""
    rating = int(e["rating"])
    if s.rating is None and 1 <= rating <= 5:
        s.rating, s.rated_at = rating, e["occurred_at"]


DossierRule = Callable[[DossierStats, Event], None]
DOSSIER_RULES: dict[str, DossierRule] = {
    "SupplementRequested": _supplement_requested,
    "SupplementProvided": _supplement_provided,
    "DossierOverdue": _overdue,
    "ApologyIssued": _apology,
    "DossierRejected": _finish("refused"),
    "DossierWithdrawn": _finish("withdrawn"),
    "ResultIssued": _finish("resolved"),
    "PaymentSucceeded": _paid,
    "RefundSucceeded": _refunded,
    "DossierRated": _rated,
}


# -- agency rules -----------------------------------------------------------------------


def _step_started(a: AgencySteps, e: Event) -> None:
    a.steps += 1


def _step_completed(a: AgencySteps, e: Event) -> None:
    a.steps_done += 1
    if e["late"]:
        a.steps_late += 1


def _step_overdue(a: AgencySteps, e: Event) -> None:
    a.steps_overdue += 1


AGENCY_RULES: dict[str, Callable[[AgencySteps, Event], None]] = {
    "StepStarted": _step_started,
    "StepCompleted": _step_completed,
    "StepOverdue": _step_overdue,
}
HANDLED = frozenset({"DossierReceived", *DOSSIER_RULES, *AGENCY_RULES, *FACT_TYPES})


def handles(kind: str) -> bool:
    """Whether events of this type change statistics rows (others are only tracked)."""
    return kind in HANDLED


def agency_of(e: Event) -> str | None:
    """The agency whose steps row the event changes, if it changes one."""
    return e["agency_code"] if e.get("type") in AGENCY_RULES else None


# -- pure application -------------------------------------------------------------------


def apply(state: DossierStats | None, event: Envelope | Event) -> DossierStats | None:
    """The dossier's row after ``event`` (``state`` is left unchanged)."""
    e = as_event(event)
    if e.get("type") == "DossierReceived":
        return state if state is not None else received(e)
    rule = DOSSIER_RULES.get(e.get("type", ""))
    if state is None or rule is None:
        return state
    new = copy.copy(state)
    rule(new, e)
    new.updated_at = e["occurred_at"]
    return new


def apply_agency(
    dossier: DossierStats | None, state: AgencySteps | None, event: Envelope | Event
) -> AgencySteps | None:
    """The (dossier, agency) row after a step event; None for a dossier never received."""
    e = as_event(event)
    rule = AGENCY_RULES.get(e.get("type", ""))
    if dossier is None or rule is None:
        return state
    new = copy.copy(state) if state is not None else _agency_row(dossier, e["agency_code"])
    rule(new, e)
    return new


def _agency_row(d: DossierStats, agency_code: str) -> AgencySteps:
    return AgencySteps(d.dossier_id, agency_code, d.year, d.procedure_id, d.level, d.channel)


# -- a whole history in memory (the replay) ---------------------------------------------


@dataclass
class Projection:
    """All rows computed from a stream of events, in order, mutated in place for speed.

    A replay of the topic may see an event twice (the relay re-publishes a batch after a
    crash, with the same event ids); the live consumer skips those by its positions, the
    replay by event id, so both count each event once. Beside the year-to-date rows it
    keeps the reports' facts (``facts.py``): the replay rebuilds both.
    """

    dossiers: dict[str, DossierStats] = field(default_factory=dict)
    agencies: dict[tuple[str, str], AgencySteps] = field(default_factory=dict)
    facts: dict[str, Dossier] = field(default_factory=dict)
    feedback: dict[str, Feedback] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    events: int = 0
    applied: int = 0

    def feed(self, e: Event) -> None:
        self.events += 1
        kind = e.get("type")
        if kind not in HANDLED:
            return
        event_id = e["event_id"]
        if event_id in self.seen:
            return
        self.seen.add(event_id)
        dossier_id = e["dossier_id"]
        if kind in FACT_TYPES:
            self._feed_facts(kind, dossier_id, e)
        dossier = self.dossiers.get(dossier_id)
        if kind == "DossierReceived":
            if dossier is None:
                self.dossiers[dossier_id] = received(e)
                self.applied += 1
            return
        if dossier is None:
            return
        self.applied += 1
        rule = DOSSIER_RULES.get(kind)
        if rule is not None:
            rule(dossier, e)
            dossier.updated_at = e["occurred_at"]
            return
        if kind not in AGENCY_RULES:
            return
        key = (dossier_id, e["agency_code"])
        row = self.agencies.get(key)
        if row is None:
            row = self.agencies[key] = _agency_row(dossier, key[1])
        AGENCY_RULES[kind](row, e)

    def _feed_facts(self, kind: str, dossier_id: str, e: Event) -> None:
        if kind in FEEDBACK_TYPES:
            key = str(e["feedback_id"])
            row = apply_feedback(self.feedback.get(key), e)
            if row is not None:
                self.feedback[key] = row
            return
        after = apply_facts(self.facts.get(dossier_id), e)
        if after is not None:
            self.facts[dossier_id] = after

    def feed_all(self, events: Iterable[Event]) -> Projection:
        for e in events:
            self.feed(e)
        return self
