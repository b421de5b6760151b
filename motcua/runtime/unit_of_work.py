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

from eventsourcing.application import Application, ProcessingEvent, project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from motcua.runtime.store import Tx, Write

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
            self._loaded[aggregate_id] = self._load(aggregate_id)
        found = self._loaded[aggregate_id]
        if found is not None and not isinstance(found, kind):
            raise TypeError(f"{aggregate_id} is a {type(found).__name__}, not a {kind.__name__}")
        return found

    def _load(self, aggregate_id: UUID) -> Aggregate | None:
        """The stored aggregate, read in the batch's own transaction (latest snapshot,
        then the events after it), as the repository reads it.

        Not through the repository: that takes a connection of its own from the pool,
        and on SQLite a writer queued for the write lock this transaction holds also
        holds the pool's queue, so the read would wait for the writer, which waits for
        this transaction: stalls until the pool's timeout."""
        key = aggregate_id.hex if self.tx.dialect == "sqlite" else aggregate_id
        after, snapshot = 0, []
        if self.app.snapshots is not None:
            rows = self._stored(self._snapshots, aggregate_id, key, 0, "DESC LIMIT 1")
            snapshot, after = rows, (rows[0].originator_version if rows else 0)
        events = self._stored(self._events, aggregate_id, key, after, "ASC")
        mapper = self.app.mapper
        aggregate: Aggregate | None = project_aggregate(
            None, (mapper.to_domain_event(e) for e in [*snapshot, *events])
        )
        return aggregate

    def _stored(
        self, table: str, aggregate_id: UUID, key: object, after: int, order: str
    ) -> list[StoredEvent]:
        self.tx.execute(
            f"SELECT originator_version, topic, state FROM {{{table}}} "
            f"WHERE originator_id = ? AND originator_version > ? "
            f"ORDER BY originator_version {order}",
            (key, after),
        )
        return [
            StoredEvent(
                originator_id=aggregate_id,
                originator_version=int(row["originator_version"]),
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            for row in self.tx.fetchall()
        ]

    @property
    def _events(self) -> str:
        return str(self.app.recorder.events_table_name)  # type: ignore[attr-defined]

    @property
    def _snapshots(self) -> str:
        assert self.app.snapshots is not None
        return str(self.app.snapshots.recorder.events_table_name)  # type: ignore[attr-defined]

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
