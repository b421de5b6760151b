"""Processes are configured by their settings classes only: nothing else reads or writes
the environment (children are handed this process's, and read their own settings)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from rich.console import Console

import devtools.chaos
import ops.serve
from motcua.runtime.faults import ExitAfterPublish
from motcua.runtime.settings import Settings
from motcua.runtime.workers import RelayWorker


class Started(Exception):
    """The chaos run got as far as starting its stack."""


class StackSeen:
    """Stands in for the chaos run's stack: keeps the settings it was given."""

    settings: Settings | None = None

    def __init__(self, settings: Settings) -> None:
        StackSeen.settings = settings

    def start(self) -> None:
        raise Started


def test_the_chaos_run_hands_its_var_dir_to_the_stack_not_to_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOTCUA_VAR_DIR", raising=False)
    monkeypatch.setattr(devtools.chaos, "Stack", StackSeen)
    before = dict(os.environ)

    with pytest.raises(Started):
        devtools.chaos.run_chaos(
            Console(file=io.StringIO()),
            dossiers=1,
            every=1,
            kills_each=1,
            concurrency=1,
            seed=1,
            var_dir=tmp_path / "chaos",
        )

    assert dict(os.environ) == before
    assert StackSeen.settings is not None
    assert StackSeen.settings.var_dir == tmp_path / "chaos"


def test_the_traces_exporter_is_a_setting_under_opentelemetry_s_own_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert Settings().otel_traces_exporter == ""
    monkeypatch.setenv("MOTCUA_OTEL_TRACES_EXPORTER", "console")  # not OpenTelemetry's
    assert Settings().otel_traces_exporter == ""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert Settings().otel_traces_exporter == "console"
    assert Settings(otel_traces_exporter="none").otel_traces_exporter == "none"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What ``ops.serve.main`` configures and serves, with nothing configured or served."""
    seen: dict[str, Any] = {}

    def tracing(service: str, spans_file: Path | None, exporters: str) -> None:
        seen["exporters"] = exporters

    def run(app: Any, **options: Any) -> None:
        seen["app"] = app

    monkeypatch.setattr(ops.serve, "configure_logging", lambda *_, **__: None)
    monkeypatch.setattr(ops.serve, "configure_tracing", tracing)
    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    return seen


def _relay_of(app: Any) -> RelayWorker:
    (relay,) = [w for w in app.state.workers if isinstance(w, RelayWorker)]
    return relay


def test_serve_takes_the_exporter_from_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: dict[str, Any]
) -> None:
    settings = Settings(
        var_dir=tmp_path,
        kafka_bootstrap_servers="127.0.0.1:1",
        otel_traces_exporter="console",
        dev_mode=True,
    )
    monkeypatch.setattr(ops.serve, "Settings", lambda: settings)

    ops.serve.main(["intake"])

    assert served["exporters"] == "console"
    assert _relay_of(served["app"]).faults is None  # production: no fault anywhere


def test_serve_gives_the_relays_the_crash_of_the_crash_tests_when_they_ask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: dict[str, Any]
) -> None:
    monkeypatch.setenv("MOTCUA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MOTCUA_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("MOTCUA_FAULT_RELAY_EXIT_AFTER_PUBLISH", "true")
    monkeypatch.setenv("MOTCUA_DEV_MODE", "true")

    ops.serve.main(["intake"])

    assert isinstance(_relay_of(served["app"]).faults, ExitAfterPublish)
