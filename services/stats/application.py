"""StatsApplication: keeps the statistics rows from ``dossier-events`` and rebuilds them.

Live, each consumed event updates its dossier's rows in the transaction that records
the consumer's positions, so every event is counted exactly once. A replay (``rebuild``)
computes every row in memory from the whole history, writes fresh ``*_rebuild`` tables
and swaps them in at once: readers see either the old figures or the new ones, never
a half-built table. Both paths apply the same rules (``projection.py``), so a replay of
the events the consumer applied gives exactly the rows it wrote.

Stats records no events of its own; it is an eventsourcing ``Application`` only to get
the configured recorder (SQLite file or PostgreSQL schema) like the other services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from contracts.envelope import Envelope
from motcua.calendar import local_date
from motcua.clock import Clock, system_clock
from motcua.consumer import Delivery
from motcua.store import Store, Tx, Write
from services.stats import readmodel as rm
from services.stats.figures import Scope, Ytd, ytd
from services.stats.projection import (
    Event,
    Projection,
    agency_of,
    apply,
    apply_agency,
    as_event,
    handles,
)

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

    def __init__(self, env: dict[str, str] | None = None, *, clock: Clock | None = None) -> None:
        super().__init__(env)
        self.clock: Clock = clock or system_clock
        self.store = Store(self.recorder)  # type: ignore[arg-type]
        self.store.write(rm.create_tables)

    def today(self) -> date:
        """The Vietnam-local date: what "in progress" is measured against."""
        return local_date(self.clock())

    def handle(self, delivery: Delivery) -> None:
        """Apply one consumed event; other types are only tracked by the consumer."""
        event = delivery.event
        if event is None or not handles(type(event).__name__):
            return
        self.store.write(apply_event(event), *delivery.writes)

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
        projection = Projection()
        for event in events:
            projection.feed(as_event(event) if isinstance(event, Envelope) else event)
            if progress is not None and projection.events % PROGRESS_EVERY == 0:
                progress(projection.events)
        if progress is not None and projection.events % PROGRESS_EVERY:
            progress(projection.events)
        self.store.write(_fill(projection, rm.REBUILD))
        self.store.write(lambda tx: rm.swap_in(tx, rm.REBUILD), *writes)
        return Rebuilt(
            projection.events,
            projection.applied,
            len(projection.dossiers),
            len(projection.agencies),
        )

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
        """The figures of ``year`` as of ``today`` (default: the service's today)."""
        return ytd(
            self.store,
            year=year,
            today=today or self.today(),
            procedure_id=procedure_id,
            agency_code=agency_code,
            level=level,
            channel=channel,
            scope=scope,
        )


def apply_event(event: Envelope | Event) -> Write:
    """The write that applies one event to its dossier's rows (read, apply, upsert)."""
    e = as_event(event)

    def write(tx: Tx) -> None:
        dossier_id = e["dossier_id"]
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


def _fill(projection: Projection, suffix: str) -> Write:
    """Fresh ``suffix`` tables holding the projection's rows."""

    def write(tx: Tx) -> None:
        rm.drop_tables(tx, suffix)
        rm.create_tables(tx, suffix, indexes=False)
        rows = map(rm.dossier_values, projection.dossiers.values())
        rm.insert_many(tx, rm.DOSSIERS + suffix, rm.DOSSIER_COLUMNS, rows)
        agency_rows = map(rm.agency_values, projection.agencies.values())
        rm.insert_many(tx, rm.AGENCY_STEPS + suffix, rm.AGENCY_COLUMNS, agency_rows)

    return write
