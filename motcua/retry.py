"""Optimistic concurrency: run a command again when another writer saved first.

Every command loads an aggregate, decides, and saves; the save fails with the event
store's ``IntegrityError`` when someone else (an officer's click, a consumed event, the
clock) recorded a new version in between. Loading again and deciding again is then
correct, because the command re-checks its rules against the newer state.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from eventsourcing.persistence import IntegrityError

from motcua.errors import Conflict

ATTEMPTS = 20

P = ParamSpec("P")
T = TypeVar("T")


def retry_on_conflict(command: Callable[P, T]) -> Callable[P, T]:
    """Re-run ``command`` (which must load what it changes) after a lost race."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        for _ in range(ATTEMPTS - 1):
            try:
                return command(*args, **kwargs)
            except IntegrityError:
                continue
        try:
            return command(*args, **kwargs)
        except IntegrityError:
            raise Conflict("the dossier is being changed by others right now; retry") from None

    return run
