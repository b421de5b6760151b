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

The aggregate handed to a mapping is advanced in place by later requests: a mapping
reads what it needs while it builds its contract event (the contract models copy the
values they validate) and keeps no reference to it. The relay (``relay.py``) and
``motcua republish`` map through ``contracts_of``; the services' publishers take the
``BatchAggregates`` of the batch as their second argument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Repository
from eventsourcing.domain import DomainEventProtocol

from contracts.events import Envelope


class BatchAggregates:
    """The aggregates of one batch of stored events, each at the version asked for."""

    def __init__(
        self, repository: Repository[UUID], events: Iterable[DomainEventProtocol[UUID]]
    ) -> None:
        self.repository = repository
        self._events: dict[tuple[UUID, int], Any] = {
            (e.originator_id, e.originator_version): e for e in events
        }
        self._held: dict[UUID, Any] = {}

    def at(self, event: DomainEventProtocol[UUID]) -> Any:
        """The aggregate of ``event`` as it was just after it (at its version)."""
        held = self._held.get(event.originator_id)
        wanted = event.originator_version
        aggregate = self._advanced(held, wanted) if held is not None else None
        if aggregate is None:
            aggregate = self.repository.get(event.originator_id, version=wanted)
        self._held[event.originator_id] = aggregate
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
) -> list[Envelope | None]:
    """The contract event of each stored event (None for internal ones), in order."""
    aggregates = BatchAggregates(repository, events)
    return [to_contract(event, aggregates) for event in events]
