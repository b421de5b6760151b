"""Optimistic concurrency: run a command again when another writer saved first.

Every command loads an aggregate, decides, and saves; the save fails with the event
store's ``IntegrityError`` when someone else (an officer's click, a consumed event, the
clock) recorded a new version in between. Loading again and deciding again is then
correct, because the command re-checks its rules against the newer state.

``@retry_on_conflict`` uses the defaults; ``@retry_on_conflict(attempts=50, jitter=0.01,
message="…")`` tunes them where many writers race for one aggregate (the acceptances of
one unit all take the next number of the same sequence).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar, overload

from eventsourcing.persistence import IntegrityError

from motcua.core.errors import Conflict

ATTEMPTS = 20
MESSAGE = "the dossier is being changed by others right now; retry"

P = ParamSpec("P")
T = TypeVar("T")


@overload
def retry_on_conflict(command: Callable[P, T], /) -> Callable[P, T]: ...


@overload
def retry_on_conflict(
    *, attempts: int = ATTEMPTS, jitter: float = 0.0, message: str = MESSAGE
) -> Callable[[Callable[P, T]], Callable[P, T]]: ...


def retry_on_conflict(
    command: Callable[P, T] | None = None,
    /,
    *,
    attempts: int = ATTEMPTS,
    jitter: float = 0.0,
    message: str = MESSAGE,
) -> Callable[P, T] | Callable[[Callable[P, T]], Callable[P, T]]:
    """Re-run ``command`` (which must load what it changes) after a lost race, up to
    ``attempts`` runs in all, sleeping up to ``jitter`` seconds (uniformly) between two so
    that the racers spread out; the last lost race raises ``Conflict(message)`` (409)."""

    def decorate(command: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(command)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            for _ in range(attempts - 1):
                try:
                    return command(*args, **kwargs)
                except IntegrityError:
                    if jitter:
                        time.sleep(random.uniform(0, jitter))
            try:
                return command(*args, **kwargs)
            except IntegrityError:
                raise Conflict(message) from None

        return run

    return decorate(command) if command is not None else decorate


def backoff_seconds(
    attempt: int, base: float, cap: float, spread: tuple[float, float] = (0.5, 1.5)
) -> float:
    """How long to wait after failed ``attempt`` (1, 2, …) of a call to an outside system
    before the next: ``base`` doubled per attempt up to ``cap``, times a random factor in
    ``spread`` so that many failures do not come back at once.

    The doubling stops at 2**60: a call retried for ever (the portal's, through a long
    outage) would otherwise reach a number too large for a float, about a thousand
    attempts in."""
    doubled: float = base * 2.0 ** min(attempt - 1, 60)
    return min(doubled, cap) * random.uniform(*spread)
