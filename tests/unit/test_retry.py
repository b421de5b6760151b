"""Commands run again after losing an optimistic-concurrency race."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError

from motcua.core.errors import Conflict
from motcua.core.retry import ATTEMPTS, backoff_seconds, retry_on_conflict


def test_a_command_that_lost_a_race_runs_again_and_succeeds() -> None:
    calls: list[int] = []

    @retry_on_conflict
    def command(x: int) -> int:
        calls.append(x)
        if len(calls) < 3:
            raise IntegrityError("version taken")
        return x * 2

    assert command(21) == 42
    assert calls == [21, 21, 21]


def test_a_command_that_always_loses_is_a_clear_conflict() -> None:
    calls: list[int] = []

    @retry_on_conflict
    def command() -> None:
        calls.append(1)
        raise IntegrityError("version taken")

    with pytest.raises(Conflict, match="retry"):
        command()
    assert len(calls) == ATTEMPTS


def test_the_attempts_and_the_message_can_be_chosen_per_command() -> None:
    calls: list[int] = []

    @retry_on_conflict(attempts=5, jitter=0.001, message="too many acceptances at once")
    def command() -> None:
        calls.append(1)
        raise IntegrityError("version taken")

    with pytest.raises(Conflict, match="too many acceptances at once"):
        command()
    assert len(calls) == 5


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    @retry_on_conflict(attempts=5)
    def command() -> None:
        calls.append(1)
        raise ValueError("a rule of the domain")

    with pytest.raises(ValueError, match="rule"):
        command()
    assert calls == [1]


def test_the_backoff_doubles_up_to_its_cap_and_survives_a_very_long_outage() -> None:
    assert [backoff_seconds(n, 1.0, 60.0, (1.0, 1.0)) for n in (1, 2, 3, 7, 8)] == [
        1.0,
        2.0,
        4.0,
        60.0,
        60.0,
    ]
    assert backoff_seconds(5000, 1.0, 60.0, (1.0, 1.0)) == 60.0  # no float overflow
    assert 30.0 <= backoff_seconds(10, 1.0, 60.0, (0.5, 1.0)) <= 60.0
