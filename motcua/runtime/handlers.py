"""A service's handlers of consumed events, registered by contract type.

One dispatch style for every consuming service: the registry maps each contract event
class to the function that applies it, ``handler(event, uow)``. The consumer reads the
registry's type names to skip, without decoding them, the records whose ``type``
header names an event the service does not handle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from contracts.envelope import Envelope
from motcua.runtime.unit_of_work import UnitOfWork

Handler = Callable[[Any, UnitOfWork], None]


class Handlers:
    """Contract event class (or a tuple of them) -> its handler."""

    def __init__(self, table: Mapping[type[Envelope] | tuple[type[Envelope], ...], Handler]):
        self._by_name: dict[str, Handler] = {}
        self._kinds: list[type[Envelope]] = []
        for kinds, handler in table.items():
            for kind in kinds if isinstance(kinds, tuple) else (kinds,):
                if kind.__name__ in self._by_name:
                    raise ValueError(f"two handlers for {kind.__name__}")
                self._by_name[kind.__name__] = handler
                self._kinds.append(kind)

    @property
    def types(self) -> frozenset[str]:
        """The names of the event types handled (as the records' ``type`` header says)."""
        return frozenset(self._by_name)

    @property
    def kinds(self) -> tuple[type[Envelope], ...]:
        """The event classes handled, by name (the subscriber declares them as its
        messages: ``subscription.py``)."""
        return tuple(sorted(self._kinds, key=lambda kind: kind.__name__))

    def handles(self, type_name: str) -> bool:
        return type_name in self._by_name

    def __call__(self, event: Envelope, uow: UnitOfWork) -> None:
        """Apply ``event``; an event of a type not registered changes nothing."""
        handler = self._by_name.get(type(event).__name__)
        if handler is not None:
            handler(event, uow)
