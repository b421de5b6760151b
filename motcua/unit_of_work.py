"""The unit of work a consumer's handlers save through: one store transaction a batch.

A tracked consumer applies each fetched batch of messages in one transaction: the
handlers' new events, their read-model rows and the consumer's positions commit
together or not at all (``consumer.py``). Handlers therefore never call ``app.save``
or ``store.write``; they are given a :class:`UnitOfWork` and save through it:

* ``uow.get(id)`` loads an aggregate once per batch and hands back the same object
  afterwards, so a handler sees what earlier messages of the batch did to it;
* ``uow.save(*aggregates, writes=[...])`` keeps the aggregates' new events for the
  commit and runs the read-model writes at once, in the batch's transaction, so that
  later reads (``uow.read``) see them;
* events are inserted last, with the positions; snapshots are taken after the commit.

Saving past the unit of work while one is active raises ``OutsideUnitOfWork``
(``store.py``): the rule cannot be forgotten silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from motcua.store import Tx, Write

A = TypeVar("A", bound=Aggregate)


class UnitOfWork:
    """What one batch changes: aggregates by id, rows written, events to insert."""

    def __init__(self, app: Application[UUID], tx: Tx) -> None:
        self.app, self.tx = app, tx
        self._loaded: dict[UUID, Aggregate | None] = {}
        self._changed: dict[UUID, Aggregate] = {}
        self.processing = ProcessingEvent[UUID]()

    def get(self, aggregate_id: UUID, kind: type[A] = Aggregate) -> A | None:  # type: ignore[assignment]
        """The aggregate as this batch left it, or ``None`` if there is none."""
        if aggregate_id not in self._loaded:
            try:
                self._loaded[aggregate_id] = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                self._loaded[aggregate_id] = None
        found = self._loaded[aggregate_id]
        if found is not None and not isinstance(found, kind):
            raise TypeError(f"{aggregate_id} is a {type(found).__name__}, not a {kind.__name__}")
        return found

    def save(self, *aggregates: Aggregate | None, writes: Sequence[Write] = ()) -> None:
        """Keep the aggregates' new events for the commit; run ``writes`` now."""
        for aggregate in aggregates:
            if aggregate is not None:
                self._loaded[aggregate.id] = aggregate
                self._changed[aggregate.id] = aggregate
        self.write(*writes)

    def write(self, *writes: Write) -> None:
        """Run read-model writes in the batch's transaction (no events)."""
        for write in writes:
            write(self.tx)

    def read(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """A query in the batch's transaction: it sees the rows written so far."""
        self.tx.execute(statement, params)
        return self.tx.fetchall()

    def read_one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.read(statement, params)
        return rows[0] if rows else None

    def stored_events(self) -> list[StoredEvent]:
        """The new events of every aggregate saved, in the order they were triggered
        within each aggregate, to insert at the end of the transaction."""
        self.processing.collect_events(*self._changed.values())
        self._changed.clear()
        return [self.app.mapper.to_stored_event(e) for e in self.processing.events]

    def after_commit(self) -> None:
        """Snapshots of the aggregates whose classes ask for them (as ``app.save`` does)."""
        if self.processing.events:
            self.app._take_snapshots(self.processing)  # the library's own step, as in save()
