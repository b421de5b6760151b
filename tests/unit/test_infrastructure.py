"""What the test session runs against: the decision and the line that reports it.

Only the decision is tested here; no Docker engine runs on these machines, so the
containers themselves are never started by the unit tests.
"""

from __future__ import annotations

import pytest

from tests.support.infrastructure import (
    ENV_VAR,
    KAFKA_IMAGE,
    POSTGRES_IMAGE,
    Choice,
    InfrastructureError,
    choose,
    docker_unreachable,
    local_postgres,
    requested_mode,
)

UNREACHABLE = "tcp://127.0.0.1:1"  # nothing listens on port 1


def engine_answers() -> str | None:
    return None


def no_engine() -> str | None:
    return "connection refused"


def must_not_probe() -> str | None:
    raise AssertionError("the engine was probed although the mode needs no probe")


@pytest.mark.parametrize(
    ("value", "mode"),
    [(None, "auto"), ("", "auto"), ("never", "never"), (" Always ", "always"), ("AUTO", "auto")],
)
def test_the_mode_comes_from_the_environment(value: str | None, mode: str) -> None:
    environ = {} if value is None else {ENV_VAR: value}
    assert requested_mode(environ) == mode


def test_an_unknown_mode_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(InfrastructureError, match="never, auto, always"):
        requested_mode({ENV_VAR: "sometimes"})


def test_an_unreachable_engine_gives_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", UNREACHABLE)
    reason = docker_unreachable(timeout=1)
    assert reason
    assert "\n" not in reason


def test_auto_without_an_engine_falls_back_to_local_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", UNREACHABLE)
    choice = choose({})
    assert not choice.containers
    assert choice.reason.startswith("no Docker engine reachable: ")


def test_auto_with_an_engine_uses_containers() -> None:
    assert choose({ENV_VAR: "auto"}, probe=engine_answers) == Choice(
        True, "Docker engine reachable"
    )


def test_never_uses_local_processes_without_probing() -> None:
    assert choose({ENV_VAR: "never"}, probe=must_not_probe) == Choice(False, f"{ENV_VAR}=never")


def test_always_without_an_engine_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", UNREACHABLE)
    with pytest.raises(InfrastructureError, match=f"{ENV_VAR}=always but no Docker engine"):
        choose({ENV_VAR: "always"})


def test_always_with_an_engine_uses_containers() -> None:
    assert choose({ENV_VAR: "always"}, probe=engine_answers).containers


def test_the_report_names_the_containers() -> None:
    line = Choice(True, "Docker engine reachable").report()
    assert line == f"infrastructure: testcontainers — {KAFKA_IMAGE} (KRaft), {POSTGRES_IMAGE}"


def test_the_report_names_the_local_processes_and_why() -> None:
    line = choose({}, probe=no_engine).report()
    assert line == (
        "infrastructure: local processes (no Docker engine reachable: connection refused)"
        f" — tansu broker, {local_postgres()}"
    )
    assert local_postgres().startswith("PostgreSQL ")
