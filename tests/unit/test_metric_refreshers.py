"""Gauges refreshed on scrape: a refresher lives as long as its worker runs.

An app built and stopped many times in one process (the tests do it all the time)
must not leave the refreshers of its stopped workers behind, each still reading a store
on every scrape.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from motcua.core import metrics
from motcua.runtime.settings import Settings
from motcua.runtime.workers import RelayWorker
from services.intake.main import create_app


def test_a_closed_registration_is_not_run_again() -> None:
    calls: list[str] = []
    before = metrics.refreshers()
    handle = metrics.on_scrape(lambda: calls.append("scraped"))

    metrics.exposition()
    handle.close()
    handle.close()  # closing twice is harmless
    metrics.exposition()

    assert calls == ["scraped"]
    assert metrics.refreshers() == before


def test_a_registration_used_as_a_context_manager_ends_with_its_block() -> None:
    def refresh() -> None: ...

    with metrics.on_scrape(refresh):
        assert refresh in metrics.refreshers()
    assert refresh not in metrics.refreshers()


def test_a_failing_refresher_does_not_stop_the_scrape() -> None:
    def broken() -> None:
        raise RuntimeError("store away")

    with metrics.on_scrape(broken):
        body, _ = metrics.exposition()
    assert b"motcua_relay_published_total" in body


def _settings(tmp_path: Path) -> Settings:
    # No broker there: the workers keep retrying until the app stops.
    return Settings(var_dir=tmp_path / "var", kafka_bootstrap_servers="127.0.0.1:1")


def test_building_an_app_registers_nothing(tmp_path: Path) -> None:
    before = len(metrics.refreshers())
    for _ in range(3):
        create_app(_settings(tmp_path))
    assert len(metrics.refreshers()) == before


def test_a_relay_worker_refreshes_its_lag_while_its_app_runs_and_no_longer(
    tmp_path: Path,
) -> None:
    before = len(metrics.refreshers())

    async def run_and_stop() -> tuple[int, bool]:
        app = create_app(_settings(tmp_path))
        (relay,) = [w for w in app.state.workers if isinstance(w, RelayWorker)]
        async with app.router.lifespan_context(app):
            deadline = time.monotonic() + 10
            while relay._measure_lag not in metrics.refreshers():
                assert time.monotonic() < deadline, "the running worker registered nothing"
                await asyncio.sleep(0.01)
            running = len(metrics.refreshers())
        return running, relay._measure_lag in metrics.refreshers()

    for _ in range(2):  # the second app does not find the first one's refresher
        running, still_there = asyncio.run(run_and_stop())
        assert running == before + 1
        assert not still_there
        assert len(metrics.refreshers()) == before


def test_a_disabled_relay_registers_no_refresher(tmp_path: Path) -> None:
    settings = _settings(tmp_path).model_copy(update={"relay_enabled": False})
    before = len(metrics.refreshers())

    async def run() -> None:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            await asyncio.sleep(0.05)
            assert len(metrics.refreshers()) == before

    asyncio.run(run())
