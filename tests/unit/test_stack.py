"""The supervisor of ``motcua up``."""

from __future__ import annotations

import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

from motcua.runtime.settings import Settings
from ops.stack import HEALTHY_SECONDS, RESTART_BACKOFF_MIN, Child, MissingStandIn, Stack, stop_all


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


def test_a_stand_in_that_is_not_installed_is_a_clear_error_not_a_child_restarted_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1")
    monkeypatch.delenv("MOTCUA_PAYMENT_GATEWAY_URL", raising=False)
    monkeypatch.setattr(
        "ops.stack.find_spec", lambda name: None if name == "devtools" else find_spec(name)
    )
    with pytest.raises(MissingStandIn, match="MOTCUA_PAYMENT_GATEWAY_URL"):
        Stack(settings)
    monkeypatch.setenv("MOTCUA_PAYMENT_GATEWAY_URL", "https://gateway.example.vn")
    monkeypatch.setenv("MOTCUA_SMTP_HOST", "smtp.example.vn")
    monkeypatch.setenv("MOTCUA_PORTAL_URL", "https://lgsp.example.vn/dvcqg")
    monkeypatch.setenv("MOTCUA_POSTAL_URL", "https://api.vnpost.example.vn")
    assert "payment" in [c.name for c in Stack(settings).children]


def test_motcua_up_runs_interagency_on_a_port_of_its_own(tmp_path: Path) -> None:
    from services.notify.settings import NotifySettings
    from services.payment.settings import PaymentSettings
    from services.portal.settings import PortalSettings
    from services.postal.settings import PostalSettings

    settings = Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1")
    stack = Stack(settings)
    ports = [settings.port_of(name) for name in stack.services]
    ports += [NotifySettings().sinks_port, PaymentSettings().gateway_sim_port]
    ports += [PortalSettings().portal_sim_port, PostalSettings().postal_sim_port]

    assert "interagency" in [c.name for c in stack.children]
    assert stack.urls()["interagency"] == "http://127.0.0.1:8008"
    assert "portal-sim" in [c.name for c in stack.children]
    assert len(ports) == len(set(ports)), "two processes of motcua up would share a port"


def _crash(child: Child) -> None:
    assert child.process is not None
    child.process.kill()
    child.process.wait()


def _sleeper(name: str, tmp_path: Path) -> Child:
    return Child(
        name, [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / f"{name}.log"
    )


def test_a_child_that_crashes_at_once_is_restarted_ever_later(tmp_path: Path) -> None:
    stack = Stack(Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1"), services=())
    child = _sleeper("svc", tmp_path)
    stack.children, stack.started = [child], True
    child.start({})
    child.backoff = 2.0
    _crash(child)

    stack.supervise_once()

    assert child.backoff == 4.0  # a crash loop: the next delay doubles


def test_a_child_that_ran_a_while_is_restarted_without_the_old_delay(tmp_path: Path) -> None:
    stack = Stack(Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1"), services=())
    child = _sleeper("svc", tmp_path)
    stack.children, stack.started = [child], True
    child.start({})
    child.backoff, child.started_at = 8.0, time.monotonic() - HEALTHY_SECONDS - 1
    _crash(child)

    stack.supervise_once()

    assert child.next_start - time.monotonic() <= RESTART_BACKOFF_MIN


def test_stopping_many_children_takes_one_grace_period_not_one_each(tmp_path: Path) -> None:
    """Children that ignore SIGTERM are waited for together, then killed."""
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    children = [
        Child(f"c{i}", [sys.executable, "-c", stubborn], tmp_path / f"c{i}.log") for i in range(4)
    ]
    for child in children:
        child.start({})
    time.sleep(0.5)  # let them install the handler

    began = time.monotonic()
    stop_all(children, timeout=1.0)

    assert time.monotonic() - began < 2.5
    assert not any(child.alive() for child in children)
