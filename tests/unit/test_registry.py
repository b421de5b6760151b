"""The registry of services: one entry is all a new service needs beside its folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from motcua.runtime.settings import Settings
from ops.republish import open_sources
from ops.stack import Stack
from services import registry
from tests.support.processes import ROOT


@pytest.mark.parametrize("entry", registry.SERVICES, ids=lambda s: s.name)
def test_each_entry_has_a_composition_root_of_the_shared_shape(entry: registry.Service) -> None:
    for name in ("build_application", "create_app", "to_contract"):
        assert callable(getattr(entry.root, name)), f"services/{entry.name}/main.py: {name}"


def test_each_service_has_a_port_setting_of_its_own() -> None:
    settings = Settings()
    ports = {entry.name: entry.port(settings) for entry in registry.SERVICES}
    assert len(set(ports.values())) == len(ports), ports


@pytest.mark.parametrize("entry", registry.SERVICES, ids=lambda s: s.name)
def test_the_topics_an_entry_publishes_are_settings(entry: registry.Service) -> None:
    settings = Settings()
    for topic in entry.publishes:
        assert isinstance(getattr(settings, topic), str)


def test_exactly_the_dossier_event_publishers_map_their_events(tmp_path: Path) -> None:
    sources = open_sources(Settings(var_dir=tmp_path))
    mapping = {s.name: s.to_contract is not None for s in sources}
    expected = {e.name: e.publishes_dossier_events for e in registry.SERVICES}
    assert mapping == expected
    assert mapping["intake"]
    assert not mapping["stats"]
    assert not mapping["interagency"]


def test_an_unknown_service_is_named_with_the_known_ones() -> None:
    with pytest.raises(registry.UnknownService, match="intake, workflow"):
        registry.service("billing")


def test_serve_refuses_an_unknown_service_with_the_list() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops.serve", "billing"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode != 0
    assert ",".join(registry.NAMES) in done.stderr


def test_the_stack_runs_each_service_and_the_stand_ins_of_unconfigured_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for entry in registry.SERVICES:
        for setting in entry.companion.replaced_by if entry.companion else ():
            monkeypatch.delenv(f"MOTCUA_{setting.upper()}", raising=False)
    settings = Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1")
    names = [c.name for c in Stack(settings).children]
    companions = [e.companion.name for e in registry.SERVICES if e.companion]
    assert names == [*companions, *registry.NAMES]

    monkeypatch.setenv("MOTCUA_SMTP_HOST", "smtp.example.vn")
    names = [c.name for c in Stack(settings).children]
    assert "sinks" not in names
    assert "gateway-sim" in names


@pytest.mark.parametrize(
    "entry", [e for e in registry.SERVICES if e.companion], ids=lambda s: s.name
)
def test_a_companion_is_replaced_by_settings_of_its_service(entry: registry.Service) -> None:
    """What replaces a stand-in are fields of the service's settings class, not names of
    environment variables: the stack asks the settings, which alone read the environment."""
    assert entry.companion is not None
    cls = type(entry.companion.load_settings())
    for setting in entry.companion.replaced_by:
        assert setting in cls.model_fields, f"{cls.__name__} has no setting {setting}"
        assert not entry.companion.replaced(cls.model_construct())  # defaults only
        configured = cls.model_validate({setting: "https://real.example.vn"})
        assert entry.companion.replaced(configured)
        assert not entry.companion.replaced(cls.model_validate({setting: ""}))
