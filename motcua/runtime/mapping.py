"""Stored events to contract events, a batch at a time, each aggregate rebuilt once.

Most contract events carry facts of their aggregate as it was just after the event (the
dossier's applicant, the bill's payment, the process's current step). Loading the
aggregate from the repository at each event's version replays it from its snapshot or
first event every time: for a batch holding N events of one aggregate that is O(N²)
work, and republishing a store is quadratic.

``BatchAggregates`` loads an aggregate once per batch, at the first version a mapping
asks for, and advances that same object with the batch's following events of it
(``event.mutate``, exactly what the repository's replay does). Where the batch lacks a
version in between, or a mapping asks for an earlier version than the one held, it
loads from the repository again: the result is always the aggregate at the version
asked for, so the messages are the ones a load per event gives.

The relay keeps what it rebuilt from one batch to the next (``Held``, the most recently
used aggregates): its batches are small when it keeps up (an HTTP command's events, a
consumer's unit of work), and each would otherwise replay its aggregates in full again.
An aggregate held at version 4 and a batch starting at 5 costs no load at all.

The aggregate handed to a mapping is advanced in place by later requests: a mapping
reads what it needs while it builds its contract event (the contract models copy the
values they validate) and keeps no reference to it. The relay (``relay.py``) and
``motcua republish`` map through ``contracts_of``; the services' publishers take the
``BatchAggregates`` of the batch as their second argument.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Repository
from eventsourcing.domain import DomainEventProtocol

from contracts.events import Envelope

KEEP = 1024  # aggregates a relay holds between batches: a few MB


class Held:
    """The aggregates rebuilt lately, by id; past ``keep`` the least recently used go."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._items: OrderedDict[UUID, Any] = OrderedDict()

    def get(self, aggregate_id: UUID) -> Any:
        aggregate = self._items.get(aggregate_id)
        if aggregate is not None:
            self._items.move_to_end(aggregate_id)
        return aggregate

    def put(self, aggregate_id: UUID, aggregate: Any) -> None:
        self._items[aggregate_id] = aggregate
        self._items.move_to_end(aggregate_id)
        while len(self._items) > self.keep:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class BatchAggregates:
    """The aggregates of one batch of stored events, each at the version asked for;
    starting from those ``held`` from earlier batches, if given."""

    def __init__(
        self,
        repository: Repository[UUID],
        events: Iterable[DomainEventProtocol[UUID]],
        held: Held | None = None,
    ) -> None:
        self.repository = repository
        self._events: dict[tuple[UUID, int], Any] = {
            (e.originator_id, e.originator_version): e for e in events
        }
        self._held = held if held is not None else Held()

    def at(self, event: DomainEventProtocol[UUID]) -> Any:
        """The aggregate of ``event`` as it was just after it (at its version)."""
        held = self._held.get(event.originator_id)
        wanted = event.originator_version
        aggregate = self._advanced(held, wanted) if held is not None else None
        if aggregate is None:
            aggregate = self.repository.get(event.originator_id, version=wanted)
        self._held.put(event.originator_id, aggregate)
        return aggregate

    def _advanced(self, aggregate: Any, version: int) -> Any:
        """``aggregate`` moved on to ``version`` by the batch's events; None when the
        batch does not hold every version in between, or ``version`` is behind it."""
        if aggregate.version > version:
            return None
        for following in range(aggregate.version + 1, version + 1):
            event = self._events.get((aggregate.id, following))
            if event is None:
                return None
            aggregate = event.mutate(aggregate)
        return aggregate


ToContract = Callable[[DomainEventProtocol[UUID], BatchAggregates], Envelope | None]


def contracts_of(
    events: Sequence[DomainEventProtocol[UUID]],
    to_contract: ToContract,
    repository: Repository[UUID],
    held: Held | None = None,
) -> list[Envelope | None]:
    """The contract event of each stored event (None for internal ones), in order."""
    aggregates = BatchAggregates(repository, events, held)
    return [to_contract(event, aggregates) for event in events]
