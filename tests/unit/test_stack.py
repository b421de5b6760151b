"""The supervisor of ``motcua up``."""

from __future__ import annotations

from pathlib import Path

import pytest

from motcua.settings import Settings
from motcua.stack import Stack


def test_a_stack_used_only_to_probe_readiness_never_starts_processes(tmp_path: Path) -> None:
    stack = Stack(Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1"))
    for child in stack.children:
        child.backoff = 0.0  # a restart would be due at once

    for _ in range(3):
        stack.supervise_once()

    assert all(child.process is None for child in stack.children)


def test_the_gateway_simulator_runs_only_when_no_gateway_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1")
    monkeypatch.delenv("MOTCUA_PAYMENT_GATEWAY_URL", raising=False)
    assert "gateway-sim" in [c.name for c in Stack(settings).children]
    monkeypatch.setenv("MOTCUA_PAYMENT_GATEWAY_URL", "https://gateway.example.vn")
    assert "gateway-sim" not in [c.name for c in Stack(settings).children]
    assert "payment" in [c.name for c in Stack(settings).children]


def test_motcua_up_runs_interagency_on_a_port_of_its_own(tmp_path: Path) -> None:
    from services.notify.settings import NotifySettings
    from services.payment.settings import PaymentSettings

    settings = Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1")
    stack = Stack(settings)
    ports = [settings.port_of(name) for name in stack.services]
    ports += [NotifySettings().sinks_port, PaymentSettings().gateway_sim_port]

    assert "interagency" in [c.name for c in stack.children]
    assert stack.urls()["interagency"] == "http://127.0.0.1:8008"
    assert len(ports) == len(set(ports)), "two processes of motcua up would share a port"
