"""StatsApplication: keeps the statistics rows from ``dossier-events`` and rebuilds them.

Live, each consumed event updates its dossier's rows in the transaction that records
the consumer's positions, so every event is counted exactly once. A replay (``rebuild``)
computes every row in memory from the whole history, writes fresh ``*_rebuild`` tables
and swaps them in at once: readers see either the old figures or the new ones, never
a half-built table. Both paths apply the same rules (``projection.py``), so a replay of
the events the consumer applied gives exactly the rows it wrote. ``motcua replay stats``
(``ops/replay.py``) feeds a ``Rebuild`` straight from the topic, while the service runs.

Stats records no events of its own; it is an eventsourcing ``Application`` only to get
the configured recorder (SQLite file or PostgreSQL schema) like the other services.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from contracts.envelope import Envelope
from contracts.events import EVENT_TYPES
from motcua.core.calendar import local_date
from motcua.core.clock import Clock, system_clock
from motcua.runtime.handlers import Handlers
from motcua.runtime.migrations import migrate
from motcua.runtime.store import Store, Tx, Write
from motcua.runtime.unit_of_work import UnitOfWork
from services.catalogue.procedures import Catalogue
from services.stats import readmodel as rm
from services.stats.facts import (
    FACT_TYPES,
    FEEDBACK_TYPES,
    Dossier,
    Feedback,
    apply_facts,
    apply_feedback,
)
from services.stats.figures import Scope, Ytd, ytd
from services.stats.migrations import STATS
from services.stats.periods import Period
from services.stats.projection import (
    HANDLED,
    Event,
    Projection,
    agency_of,
    apply,
    apply_agency,
    as_event,
)
from services.stats.reports import GroupBy, Report, report
from services.stats.service_index import ServiceIndex, service_index

Progress = Callable[[int], None]
PROGRESS_EVERY = 10_000


@dataclass(frozen=True)
class Rebuilt:
    """What a replay did: events read and applied, rows written."""

    events: int
    applied: int
    dossiers: int
    agency_rows: int


class StatsApplication(Application[UUID]):
    """The consumer handler, the replay and the figures' queries."""

    name = "stats"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Clock | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        super().__init__(env)
        self.clock: Clock = clock or system_clock
        self.catalogue = catalogue  # names of fields and agencies in the reports
        self.store = Store(self.recorder)  # type: ignore[arg-type]
        self.migrated = migrate(self.store, STATS)  # stats' own tables, at the latest step

    def today(self) -> date:
        """The Vietnam-local date: what "in progress" is measured against."""
        return local_date(self.clock())

    def handlers(self) -> Handlers:
        """The events that change statistics rows; the others are only tracked."""
        kinds = tuple(EVENT_TYPES[name] for name in sorted(HANDLED))
        return Handlers({kinds: self.count})

    @staticmethod
    def count(event: Envelope, uow: UnitOfWork) -> None:
        """Apply one consumed event to the statistics rows."""
        uow.write(apply_event(event))

    def rebuild(
        self,
        events: Iterable[Envelope | Mapping[str, Any]],
        progress: Progress | None = None,
        *,
        writes: Sequence[Write] = (),
    ) -> Rebuilt:
        """Recompute every row from ``events`` (in topic order) and swap them in.

        ``events`` may be plain dicts (``json.loads`` of the messages): no validation on
        this path. ``progress`` is called with the number of events read, every
        ``PROGRESS_EVERY`` and at the end. ``writes`` join the swap's transaction (for
        example the consumer positions the replay read up to).
        """
        rebuild = Rebuild(self.store)
        projection = rebuild.projection
        for event in events:
            rebuild.feed(event)
            if progress is not None and projection.events % PROGRESS_EVERY == 0:
                progress(projection.events)
        if progress is not None and projection.events % PROGRESS_EVERY:
            progress(projection.events)
        rebuild.fill()
        self.store.write(rebuild.swap, *writes)
        return rebuild.report()

    def ytd(
        self,
        *,
        year: int,
        today: date | None = None,
        procedure_id: str | None = None,
        agency_code: str | None = None,
        level: int | None = None,
        channel: str | None = None,
        scope: Scope = "province",
    ) -> Ytd:
        """The figures of ``year`` as of ``today``'s start, or of the service's now."""
        now = None
        if today is None:
            now = self.clock()
            today = local_date(now)
        return ytd(
            self.store,
            year=year,
            today=today,
            now=now,
            procedure_id=procedure_id,
            agency_code=agency_code,
            level=level,
            channel=channel,
            scope=scope,
        )

    def report(self, period: Period, by: GroupBy = "procedure") -> Report:
        """The report of ``period`` as of its end, or of now while it is not over."""
        return report(self.store, period, by, self.clock(), self.catalogue)

    def service_index(self, period: Period) -> ServiceIndex:
        """The Decision 766 index of ``period`` per agency, as of its end or of now."""
        return service_index(self.store, period, self.clock(), self.catalogue)


def apply_event(event: Envelope | Event) -> Write:
    """The write that applies one event to its dossier's rows (read, apply, upsert)."""
    e = as_event(event)

    def write(tx: Tx) -> None:
        dossier_id = e["dossier_id"]
        if e.get("type") in FACT_TYPES:
            _apply_facts(tx, e)
        before = rm.load_dossier(tx, dossier_id)
        after = apply(before, e)
        if after is not None and after != before:
            rm.upsert_dossier(tx, after)
        agency = agency_of(e)
        if agency is not None:
            row = apply_agency(after, rm.load_agency(tx, dossier_id, agency), e)
            if row is not None:
                rm.upsert_agency(tx, row)

    return write


def _apply_facts(tx: Tx, e: Event) -> None:
    """The reports' facts of the event, in the same transaction as the figures' rows."""
    if e.get("type") in FEEDBACK_TYPES:
        feedback = apply_feedback(rm.load_feedback(tx, str(e["feedback_id"])), e)
        if feedback is not None:
            rm.upsert_feedback(tx, feedback)
        return
    before = rm.load_facts(tx, e["dossier_id"])
    snapshot = None if before is None else copy.deepcopy(before)
    after = apply_facts(before, e)
    if after is not None and after != snapshot:
        rm.save_facts(tx, after)


class Rebuild:
    """A replay fed incrementally: ``feed`` events, ``fill`` the fresh tables, ``swap``.

    Filling writes every row and is the long part, so it has its own transaction. A
    replay that must read further after it (to catch up with a live consumer) goes on
    feeding; ``swap`` then rewrites only the rows of the dossiers fed since the fill,
    inside the swap's transaction, so that catching up costs little and the live
    consumer is not kept waiting.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.projection = Projection()
        self.touched: set[str] | None = None  # dossiers fed since the fill

    def feed(self, event: Envelope | Mapping[str, Any]) -> None:
        e = as_event(event) if isinstance(event, Envelope) else event
        self.projection.feed(e)
        if self.touched is not None and e.get("type") in HANDLED:
            self.touched.add(e["dossier_id"])

    def absorb(self, other: Projection) -> None:
        """Add rows computed elsewhere from other dossiers' events (before ``fill``).

        A replay that reads partitions in several processes merges their projections:
        messages are keyed by dossier id, so no dossier is in two of them.
        """
        assert self.touched is None, "absorb before fill"
        p = self.projection
        p.dossiers.update(other.dossiers)
        p.agencies.update(other.agencies)
        p.facts.update(other.facts)
        p.feedback.update(other.feedback)
        p.seen |= other.seen
        p.events += other.events
        p.applied += other.applied

    def fill(self) -> None:
        """Write every row into fresh ``*_rebuild`` tables (one transaction)."""
        self.store.write(_fill(self.projection, rm.REBUILD))
        self.touched = set()

    def swap(self, tx: Tx) -> None:
        """Bring the fresh tables up to date and swap them in (a write: call after ``fill``)."""
        if self.touched:
            _refresh(tx, self.projection, self.touched, rm.REBUILD)
        rm.swap_in(tx, rm.REBUILD)

    def report(self) -> Rebuilt:
        p = self.projection
        return Rebuilt(p.events, p.applied, len(p.dossiers), len(p.agencies))


def _refresh(tx: Tx, projection: Projection, dossier_ids: set[str], suffix: str) -> None:
    """Replace the ``suffix`` tables' rows of ``dossier_ids`` by the projection's."""
    ids = sorted(dossier_ids)
    for start in range(0, len(ids), rm.BATCH_ROWS):
        chunk = ids[start : start + rm.BATCH_ROWS]
        marks = ", ".join("?" * len(chunk))
        for table in rm.TABLES:
            tx.execute(f"DELETE FROM {{{table}{suffix}}} WHERE dossier_id IN ({marks})", chunk)
    dossiers = (projection.dossiers[i] for i in ids if i in projection.dossiers)
    rm.insert_many(tx, rm.DOSSIERS + suffix, rm.DOSSIER_COLUMNS, map(rm.dossier_values, dossiers))
    agencies = (a for key, a in projection.agencies.items() if key[0] in dossier_ids)
    rm.insert_many(tx, rm.AGENCY_STEPS + suffix, rm.AGENCY_COLUMNS, map(rm.agency_values, agencies))
    facts = {i: projection.facts[i] for i in ids if i in projection.facts}
    feedback = (f for f in projection.feedback.values() if f.dossier_id in dossier_ids)
    _insert_facts(tx, suffix, facts.values(), feedback)


def _fill(projection: Projection, suffix: str) -> Write:
    """Fresh ``suffix`` tables holding the projection's rows."""

    def write(tx: Tx) -> None:
        rm.drop_tables(tx, suffix)
        rm.create_tables(tx, suffix, indexes=False)
        rows = map(rm.dossier_values, projection.dossiers.values())
        rm.insert_many(tx, rm.DOSSIERS + suffix, rm.DOSSIER_COLUMNS, rows)
        agency_rows = map(rm.agency_values, projection.agencies.values())
        rm.insert_many(tx, rm.AGENCY_STEPS + suffix, rm.AGENCY_COLUMNS, agency_rows)
        _insert_facts(tx, suffix, projection.facts.values(), projection.feedback.values())

    return write


def _insert_facts(
    tx: Tx, suffix: str, dossiers: Iterable[Dossier], feedback: Iterable[Feedback]
) -> None:
    """The reports' facts of ``dossiers`` and the rows of ``feedback`` into ``suffix`` tables."""
    dossiers = list(dossiers)
    rm.insert_many(
        tx, rm.FACTS + suffix, rm.FACT_COLUMNS, (rm.fact_values(d.facts) for d in dossiers)
    )
    pauses = (rm.pause_values(p) for d in dossiers for p in d.pauses)
    rm.insert_many(tx, rm.PAUSES + suffix, rm.PAUSE_COLUMNS, pauses)
    rm.insert_many(tx, rm.FEEDBACK + suffix, rm.FEEDBACK_COLUMNS, map(rm.feedback_values, feedback))
