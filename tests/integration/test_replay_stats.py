"""``motcua replay stats`` against real processes: broker, intake, workflow and stats.

The replay runs as the operator runs it (the CLI, in its own process) while the stats
service keeps consuming: the figures it swaps in are the live ones exactly, the live
consumer then counts what comes next once, and a damaged table is put right.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.history import year_of_messages
from bench.replay import produce
from devtools.demo.client import APPLICANTS, DemoClient
from devtools.demo.workflow import (
    BIRTH,
    BUSINESS,
    LAND,
    Officers,
    birth_to_electronic_result,
    business_with_supplement,
    land_to_payment_gate,
    wait_for_process,
)
from motcua.runtime.kafka import ensure_topics
from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from motcua.runtime.store import store_env
from motcua.runtime.topic_reader import read_topic
from ops.replay import replay_stats
from services.stats.application import StatsApplication
from tests.support.processes import ROOT, Broker, ServiceProcess, free_port
from tests.support.samples import tables

# own_stores: the replay and its checks open the stats store in-process (SQLite here;
# the swap itself is tested on both stores in tests/unit/test_replay.py).
pytestmark = [pytest.mark.integration, pytest.mark.own_stores]

MONDAY = "2026-03-02T09:00:00+07:00"
YEAR = 2026


@dataclass
class Pipeline:
    client: DemoClient
    stats: ServiceProcess
    broker: Broker
    topic: str

    @property
    def settings(self) -> Settings:
        env = self.stats.env
        return Settings(
            kafka_bootstrap_servers=env["MOTCUA_KAFKA_BOOTSTRAP_SERVERS"],
            dossier_topic=env["MOTCUA_DOSSIER_TOPIC"],
            var_dir=Path(env["MOTCUA_VAR_DIR"]),
        )

    def figures(self) -> dict[str, Any]:
        """The published figures, province-wide and per agency, as the API serves them."""
        return {
            scope: httpx.get(
                f"{self.stats.url}/v1/stats/ytd", params={"year": YEAR, "scope": scope}
            ).json()
            for scope in ("province", "agency")
        }

    def received(self, procedure_id: str, applicant: int = 0, channel: str = "online") -> str:
        dossier_id, agency = self.client.submit(APPLICANTS[applicant], procedure_id, channel)
        self.client.call("POST", f"/v1/dossiers/{dossier_id}/accept", self.client.officer(agency))
        wait_for_process(self.client, dossier_id)
        return dossier_id

    def settled(self, timeout: float = 45.0) -> dict[str, Any]:
        """The figures once intake's and workflow's relays have published every stored
        event and stats has applied every message on the topic."""
        deadline = time.monotonic() + timeout
        ends: dict[int, int] = {}
        while time.monotonic() < deadline:
            # Idle relays first, then the ends: ends read before a relay's last publish
            # would let stats look caught up one event early.
            if self.relays_idle():
                ends = asyncio.run(end_offsets(self.broker.bootstrap, self.topic))
                if ends and stats_offsets(self.stats) == ends:
                    return self.figures()
            time.sleep(0.2)
        raise TimeoutError(f"stats at {stats_offsets(self.stats)}, the topic's ends {ends}")

    def relays_idle(self) -> bool:
        """No stored event waits for its relay (``motcua_relay_lag_events`` is 0)."""
        for service in (self.client.http, self.client.flow):
            for line in service.get("/metrics").text.splitlines():
                if line.startswith("motcua_relay_lag_events{") and float(line.split()[-1]):
                    return False
        return True

    def replay(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``motcua replay stats`` as an operator runs it, beside the running service."""
        return run_cli(self.stats.env, *args)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "replay", "stats", *args],
        env={**env, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Each non-empty partition's next offset, found by reading it: the embedded broker
    reports the start of a partition's last batch as its end."""
    settings = Settings(kafka_bootstrap_servers=bootstrap)
    return {r.partition: r.offset + 1 for r in await read_topic(settings, topic, missing_ok=True)}


def stats_db(stats: ServiceProcess) -> Path:
    return Path(stats.env["MOTCUA_VAR_DIR"]) / "stats.db"


def stats_offsets(stats: ServiceProcess) -> dict[int, int]:
    """The live consumer's positions, as it stored them (empty partitions have none)."""
    with sqlite3.connect(stats_db(stats)) as db:
        try:
            rows = db.execute(
                "SELECT part, next_offset FROM consumer_offsets WHERE consumer = 'stats'"
            ).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return {}
    return {int(part): int(offset) for part, offset in rows if offset}


@pytest.fixture
def pipeline(
    start_service: Callable[..., ServiceProcess], broker: Broker, topic: str, clock_file: Path
) -> Pipeline:
    clock_file.write_text(MONDAY)
    intake, workflow = start_service("intake"), start_service("workflow")
    stats = start_service("stats")
    client = DemoClient(intake.url, workflow.url, DEV_JWT_SECRET)
    return Pipeline(client, stats, broker, topic)


def a_working_day(p: Pipeline) -> str:
    """Dossiers through receipt, steps across agencies, a supplement, a result, a refusal;
    the one still in process at an agency that can complete a step."""
    resolved = p.received(BIRTH, 0)
    birth_to_electronic_result(p.client, resolved)
    across = p.received(LAND, 2)
    land_to_payment_gate(p.client, across)
    supplemented = p.received(BUSINESS, 1)
    business_with_supplement(p.client, supplemented)
    refused = p.received(BIRTH, 1, "counter")
    Officers(p.client, refused).do("reject", reason="Không đủ điều kiện đăng ký")
    return supplemented


def test_replay_swaps_in_the_live_figures_and_the_live_consumer_counts_on_once(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    in_process = a_working_day(pipeline)
    before = pipeline.settled()
    totals = before["province"]["totals"]
    assert (totals["received"], totals["resolved_early"] + totals["resolved_on_time"]) == (4, 1)
    assert (totals["refused"], totals["paused_for_supplement"]) == (1, 0)
    assert totals["steps_done"] >= 10
    assert len(before["agency"]["rows"]) >= 3  # the land transfer crossed agencies

    cli = pipeline.replay()
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "events read" in cli.stdout
    assert "dossiers" in cli.stdout
    assert pipeline.figures() == before

    # After the swap the live consumer goes on: a new dossier and a step of an old one.
    latest = pipeline.received(BIRTH, 2)
    Officers(pipeline.client, latest).do("complete-step", notes="Đã tiếp nhận")
    Officers(pipeline.client, in_process).do("complete-step", notes="Đã ký")
    after = pipeline.settled()
    now = after["province"]["totals"]
    assert now["received"] == totals["received"] + 1
    assert now["steps_done"] == totals["steps_done"] + 2
    assert now["resolved_on_time"] + now["resolved_early"] == 1
    # ... and its rows are exactly those of a replay of the whole topic into another store.
    live = StatsApplication(store_env(None, str(stats_db(pipeline.stats).parent), "stats"))
    assert tables(live) == tables(replayed_elsewhere(pipeline, tmp_path / "elsewhere"))


def replayed_elsewhere(p: Pipeline, directory: Path) -> StatsApplication:
    directory.mkdir()
    app = StatsApplication(store_env(None, str(directory), "stats"))
    asyncio.run(replay_stats(p.settings, app))
    return app


def test_replay_puts_a_damaged_table_right_and_a_restarted_consumer_goes_on_after_it(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    first = pipeline.received(BIRTH, 0)
    birth_to_electronic_result(pipeline.client, first)
    across = pipeline.received(LAND, 2)
    land_to_payment_gate(pipeline.client, across)
    before = pipeline.settled()
    with sqlite3.connect(stats_db(pipeline.stats)) as db:
        db.execute("UPDATE stats_dossiers SET status = 'withdrawn', fees_vnd = 999")
        db.execute("DELETE FROM stats_agency_steps WHERE agency_code <> ?", ("000.00.31.H23",))
    damaged = pipeline.figures()
    assert damaged["province"]["totals"]["withdrawn"] == 2
    assert damaged["agency"] != before["agency"]

    cli = pipeline.replay("--workers", "2")  # two reading processes, even for a few events
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert pipeline.figures() == before

    # Stats is down while a dossier comes in; the replay reads it, and stats, started
    # again, resumes after the replay instead of counting it a second time.
    pipeline.stats.stop()
    pipeline.received(BIRTH, 1)
    cli = pipeline.replay()
    assert cli.returncode == 0, cli.stdout + cli.stderr
    pipeline.stats.start()
    after = pipeline.settled()
    assert after["province"]["totals"]["received"] == before["province"]["totals"]["received"] + 1
    live = StatsApplication(store_env(None, str(stats_db(pipeline.stats).parent), "stats"))
    assert tables(live) == tables(replayed_elsewhere(pipeline, tmp_path / "elsewhere"))


def test_replay_says_so_when_the_broker_cannot_be_reached(tmp_path: Path) -> None:
    env = {
        "MOTCUA_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "MOTCUA_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "PATH": "/usr/bin:/bin",
    }
    cli = run_cli(env)
    assert cli.returncode == 1
    assert "cannot reach the broker" in cli.stdout
    assert "Traceback" not in cli.stdout + cli.stderr


def test_several_reading_processes_give_the_rows_of_one(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap, dossier_topic=topic)
    sent = list(year_of_messages(6000, seed=9))
    asyncio.run(ensure_topics(settings, [topic]))
    assert asyncio.run(produce(settings, sent)) == len(sent)

    apps = {}
    for workers in (1, 3):
        (tmp_path / f"w{workers}").mkdir()
        app = StatsApplication(store_env(None, str(tmp_path / f"w{workers}"), "stats"))
        replayed = asyncio.run(replay_stats(settings, app, workers=workers))
        assert (replayed.events, replayed.workers) == (len(sent), workers)
        assert sum(replayed.end_offsets.values()) == len(sent)
        apps[workers] = app
    reference = StatsApplication(store_env(None, str(tmp_path), "reference"))
    reference.rebuild(json.loads(m.value) for m in sent)
    assert tables(apps[1]) == tables(reference)
    assert tables(apps[3]) == tables(reference)
    assert len(tables(reference)[0]) > 150
