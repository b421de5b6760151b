"""The store's schema steps: an old store opened by this release, ``motcua migrate``,
two processes migrating one store at once, a failing step, a step added later.

"Old" is a store as the release before versioned steps left it (commit c663d73): the
runtime's tables created by the statements that release ran where it first needed them
(copied below, as they were), no ``schema_version`` table, rows in every table. Each test
runs on SQLite and on PostgreSQL (the ``database_url`` fixture).

No table was ever renamed in a release: the one ``ALTER TABLE … RENAME`` there is, stats'
replay swapping its rebuilt tables in (``services/stats/readmodel.py``), happens on every
replay and is no change of schema, so an old stats store has its tables by today's names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiokafka import TopicPartition
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from contracts.chain import Head
from motcua.runtime import access_counts, working_calendar
from motcua.runtime.access_counts import AccessKey
from motcua.runtime.attachments import Attachments
from motcua.runtime.chaining import chain_head
from motcua.runtime.migrations import (
    RUNTIME,
    VERSION_TABLE,
    Component,
    Migrated,
    Step,
    applied_steps,
    migrate,
    version,
)
from motcua.runtime.positions import consumer_offsets, consumer_watermarks
from motcua.runtime.relay import relay_position, relay_positions, relay_progress
from motcua.runtime.settings import Settings
from motcua.runtime.store import Store, Tx, store_env
from services.intake.readmodel import INTAKE_TABLES
from services.registry import NAMES, open_store, service
from services.stats import readmodel as stats_tables
from services.stats.migrations import STATS
from services.stats.projection import DossierStats
from tests.support.processes import ROOT

TOPIC = "dossier-events"
DOSSIER = UUID("5b0c3a52-8f0e-4a44-9a59-1f3c2d4e5f60")
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

# What the previous release ran, by the constructor that ran it.
CONSUMER_TABLES = (  # TrackedConsumer.__init__ (every service), ops/replay, ops/republish
    """
    CREATE TABLE IF NOT EXISTS {consumer_offsets} (
        consumer TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        PRIMARY KEY (consumer, topic, part)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS {consumer_watermarks} (
        consumer TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,
        producer TEXT NOT NULL, position BIGINT NOT NULL,
        PRIMARY KEY (consumer, topic, part, producer)
    )
    """,
)
RELAY_TABLE = """
CREATE TABLE IF NOT EXISTS {relay_positions} (
    relay TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    owner TEXT,
    lease_until DOUBLE PRECISION NOT NULL
)
"""  # OutboxRelay.__init__, InteragencyApplication.__init__, ops/republish
CHAIN_TABLE = """
CREATE TABLE IF NOT EXISTS {chain_heads} (
    producer TEXT NOT NULL,
    dossier_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (producer, dossier_id)
)
"""  # OutboxRelay.__init__, Chainer.save, ops/audit


def attachments_table(tx: Tx) -> None:  # Attachments.__init__ (intake, workflow)
    tx.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {{attachments}} (
            sha256 TEXT PRIMARY KEY,
            content_type TEXT NOT NULL,
            size BIGINT NOT NULL,
            data {tx.blob} NOT NULL,
            uploaded_by TEXT NOT NULL,
            uploaded_at TEXT NOT NULL
        )
        """
    )


class Thing(Aggregate):
    """Events to find again: a migration never touches the event store."""


class OldIntake(Application[UUID]):
    name = "intake"  # its events table's name on PostgreSQL, as intake's


class OldStats(Application[UUID]):
    name = "stats"


@contextmanager
def previous_release(app: Application[UUID]) -> Iterator[Tx]:
    """A transaction on the store as the previous release wrote it: not through ``Store``,
    which would migrate it first."""
    recorder: Any = app.recorder
    datastore = recorder.datastore
    postgres = type(datastore).__name__.startswith("Postgres")
    with datastore.transaction(commit=True) as cursor:
        yield Tx(
            cursor, "postgres" if postgres else "sqlite", datastore.schema if postgres else None
        )


def old_intake_store(database_url: str | None, var_dir: Path) -> int:
    """An intake store of the previous release, after it ran for a while: its relay and
    consumer positions, a chain head, an attachment, events. The last event's position."""
    var_dir.mkdir(parents=True, exist_ok=True)
    app = OldIntake(store_env(database_url, str(var_dir), "intake"))
    app.save(Thing(), Thing(), Thing())
    with previous_release(app) as tx:
        for statement in (*CONSUMER_TABLES, RELAY_TABLE, CHAIN_TABLE):
            tx.execute(statement)
        attachments_table(tx)
        tx.execute(
            "INSERT INTO {relay_positions} VALUES ('intake', 2, 'old-instance', 1700000000.5)"
        )
        tx.execute(
            "INSERT INTO {consumer_offsets} VALUES ('intake', ?, 0, 17), ('intake', ?, 1, 5)",
            (TOPIC, TOPIC),
        )
        tx.execute(
            "INSERT INTO {consumer_watermarks} VALUES ('intake', ?, 0, 'workflow', 33)", (TOPIC,)
        )
        tx.execute(
            "INSERT INTO {chain_heads} VALUES ('intake', ?, 3, ?)", (str(DOSSIER), "ab" * 32)
        )
        tx.execute(
            "INSERT INTO {attachments} VALUES (?, 'application/pdf', 4, ?, 'citizen-1', ?)",
            (SHA, b"%PDF", "2026-11-30T08:00:00+07:00"),
        )
    last = app.recorder.max_notification_id() or 0
    app.close()
    return last


NEW_STATS_COLUMNS = ("statutory_date", "statutory_at", "apologised")  # stats step 2
DOSSIER_ROW = DossierStats(
    dossier_id=str(DOSSIER),
    year=2026,
    procedure_id="1.000001",
    procedure_name="Đăng ký khai sinh",
    level=4,
    channel="online",
    agency_code="000.00.01.H01",
    appointment_date="2026-12-04",
    status="resolved",
    timeliness="early",
    fees_vnd=8000,
    updated_at="2026-12-01T09:00:00+07:00",
)


def old_stats_store(database_url: str | None, var_dir: Path) -> None:
    """A stats store of the previous release: its consumer's tables and its own, no relay
    (stats publishes nothing), so no relay positions nor chain heads."""
    var_dir.mkdir(parents=True, exist_ok=True)
    app = OldStats(store_env(database_url, str(var_dir), "stats"))
    with previous_release(app) as tx:
        for statement in CONSUMER_TABLES:
            tx.execute(statement)
        STATS.steps[0].apply(tx)  # StatsApplication.__init__ then: its statements, as step 1
        old = {k: v for k, v in asdict(DOSSIER_ROW).items() if k not in NEW_STATS_COLUMNS}
        marks = ", ".join("?" * len(old))
        tx.execute(
            f"INSERT INTO {{stats_dossiers}} ({', '.join(old)}) VALUES ({marks})",
            [int(v) if isinstance(v, bool) else v for v in old.values()],
        )
        tx.execute("INSERT INTO {consumer_offsets} VALUES ('stats', ?, 0, 250)", (TOPIC,))
    app.close()


def settings_for(database_url: str | None, var_dir: Path) -> Settings:
    return Settings(var_dir=var_dir, database_url=database_url)


def motcua(database_url: str | None, var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``motcua`` command, as an operator runs it against these stores."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env |= {"MOTCUA_VAR_DIR": str(var_dir), "COLUMNS": "120"}
    if database_url is not None:
        env["MOTCUA_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_an_old_store_opened_by_this_release_keeps_its_rows_at_the_latest_step(
    database_url: str | None, tmp_path: Path
) -> None:
    last = old_intake_store(database_url, tmp_path)

    # The composition root opens it, as a starting service does.
    opened = open_store(service("intake"), settings_for(database_url, tmp_path))
    store = opened.store

    assert store.migrated == Migrated("runtime", 0, RUNTIME.latest)
    assert version(store) == RUNTIME.latest
    assert sorted((r["component"], r["version"]) for r in applied_steps(store)) == sorted(
        [("runtime", step.version) for step in RUNTIME.steps]
        + [("intake", step.version) for step in INTAKE_TABLES.steps]
    )
    assert relay_position(store, "intake") == 2
    assert relay_progress(store, ["intake"])["intake"].lag == last - 2
    lease = store.read_one("SELECT owner, lease_until FROM {relay_positions}")
    assert lease == {"owner": "old-instance", "lease_until": 1700000000.5}
    assert consumer_offsets(store, "intake") == {
        TopicPartition(TOPIC, 0): 17,
        TopicPartition(TOPIC, 1): 5,
    }
    assert consumer_watermarks(store, "intake") == {(TOPIC, 0, "workflow"): 33}
    assert chain_head(store, "intake", DOSSIER) == Head(3, "ab" * 32)
    attachment = Attachments(store).get(SHA)
    assert (attachment["data"], attachment["content_type"]) == (b"%PDF", "application/pdf")
    assert len(opened.app.recorder.select_notifications(1, 10)) == last == 3
    opened.app.close()

    # Opened again: nothing left to do.
    again = open_store(service("intake"), settings_for(database_url, tmp_path))
    assert again.store.migrated == Migrated("runtime", RUNTIME.latest, RUNTIME.latest)
    assert again.store.migrated.applied == ()
    assert len(applied_steps(again.store)) == RUNTIME.latest + INTAKE_TABLES.latest
    again.app.close()


def test_motcua_migrate_brings_an_old_store_to_the_latest_step(
    database_url: str | None, tmp_path: Path
) -> None:
    old_stats_store(database_url, tmp_path)

    result = motcua(database_url, tmp_path, "migrate", "--service", "stats")
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if " stats " in line)
    cells = [cell.strip() for cell in row.strip().strip("│").split("│")]
    every_step = ", ".join(str(n) for n in range(1, RUNTIME.latest + 1))
    assert cells == ["stats", "runtime", "0", str(RUNTIME.latest), every_step], row

    app = OldStats(store_env(database_url, str(tmp_path), "stats"))
    with previous_release(app) as tx:  # read without opening a Store: no migration here
        tx.execute("SELECT component, version FROM {schema_version} ORDER BY component, version")
        assert [tuple(r.values()) for r in tx.fetchall()] == [
            *(("runtime", step.version) for step in RUNTIME.steps),
            *(("stats", step.version) for step in STATS.steps),
        ]
        # The row as it was, its appointment taken as the statutory one (stats step 2).
        migrated_row = replace(DOSSIER_ROW, statutory_date=DOSSIER_ROW.appointment_date)
        assert stats_tables.load_dossier(tx, str(DOSSIER)) == migrated_row
    store = Store(app.recorder)  # type: ignore[arg-type]
    assert store.migrated.applied == ()
    assert consumer_offsets(store, "stats") == {TopicPartition(TOPIC, 0): 250}
    # The tables a stats store never needed before are there now, empty.
    assert relay_positions(store) == {}
    assert chain_head(store, "stats", DOSSIER) is None
    app.close()

    # Every service's store, the others fresh: each created at the latest step.
    result = motcua(database_url, tmp_path, "migrate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(f" {name} " in result.stdout for name in NAMES)

    result = motcua(database_url, tmp_path, "migrate", "--service", "nosuch")
    assert result.returncode == 2
    assert "no service 'nosuch'" in result.stdout


def test_a_store_at_step_2_gains_the_access_counts_and_keeps_its_rows(
    database_url: str | None, tmp_path: Path
) -> None:
    """A store as the release with the working calendar (runtime step 2) left it: its
    calendar and positions kept, ``access_counts`` added empty and counting."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    app = OldIntake(store_env(database_url, str(tmp_path), "intake"))
    with previous_release(app) as tx:
        tx.execute(VERSION_TABLE)
        for step in RUNTIME.steps[:2]:
            step.apply(tx)
            tx.execute(
                "INSERT INTO {schema_version} VALUES ('runtime', ?, ?, ?)",
                (step.version, step.description, "2026-11-01T00:00:00+00:00"),
            )
        working_calendar.set_day(
            date(2027, 2, 12), False, "Thông báo", "admin-1", "2026-11-01T08:00:00+07:00", 4
        )(tx)
        tx.execute("INSERT INTO {consumer_offsets} VALUES ('intake', ?, 0, 42)", (TOPIC,))
    app.close()

    opened = open_store(service("intake"), settings_for(database_url, tmp_path))
    store = opened.store
    assert store.migrated == Migrated("runtime", 2, RUNTIME.latest)
    assert store.migrated.applied[0] == 3
    assert consumer_offsets(store, "intake") == {TopicPartition(TOPIC, 0): 42}
    assert [(d["day"], d["working"]) for d in working_calendar.entered_days(store)] == [
        ("2027-02-12", 0)
    ]
    assert access_counts.counts(store, date(2026, 1, 1), date(2026, 12, 31)) == []
    key = AccessKey("2026-12-01", "intake", "/v1/dossiers/{ref}", "GET", "anonymous", 404)
    store.write(access_counts.add({key: 2}))
    store.write(access_counts.add({key: 3}))  # added, not written over
    assert access_counts.counts(store, date(2026, 12, 1), date(2026, 12, 1)) == [
        {**asdict(key), "requests": 5}
    ]
    opened.app.close()


def _slow_step(calls: list[str]) -> Step:
    def create(tx: Tx) -> None:
        calls.append(threading.current_thread().name)
        tx.execute("CREATE TABLE {probe} (n INTEGER)")  # no IF NOT EXISTS: twice would fail
        time.sleep(0.5)  # the other process arrives meanwhile and must wait

    return Step(1, "a slow step", create)


def test_two_processes_migrating_one_store_at_once_apply_each_step_once(
    database_url: str | None, tmp_path: Path
) -> None:
    """Each "process" has an application of its own (its own connections), as two
    instances of a service starting together: only the database can keep them apart."""
    old_stats_store(database_url, tmp_path)
    calls: list[str] = []
    component = Component("concurrency", (_slow_step(calls),))
    apps = [OldStats(store_env(database_url, str(tmp_path), "stats")) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: dict[str, tuple[Migrated, Migrated]] = {}
    errors: list[BaseException] = []

    def start(app: OldStats) -> None:
        try:
            barrier.wait()
            store = Store(app.recorder)  # type: ignore[arg-type]  # the runtime's steps
            barrier.wait()  # then the slow one, both at once
            results[threading.current_thread().name] = (store.migrated, migrate(store, component))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(a,), name=f"p{i}") for i, a in enumerate(apps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert len(calls) == 1
    assert sorted(r[1].applied for r in results.values()) == [(), (1,)]
    every_step = tuple(step.version for step in RUNTIME.steps)
    assert sorted(r[0].applied for r in results.values())[-1] == every_step  # runtime: once too
    assert all(r[0].after == RUNTIME.latest and r[1].after == 1 for r in results.values())
    store = Store(apps[0].recorder)  # type: ignore[arg-type]
    assert [(r["component"], r["version"]) for r in applied_steps(store)] == [
        ("concurrency", 1),
        *(("runtime", n) for n in every_step),
    ]
    for app in apps:
        app.close()


def _tables(store: Store) -> set[str]:
    if store.dialect == "postgres":
        rows = store.read(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?",
            (store.schema,),
        )
    else:
        rows = store.read("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r["name"] for r in rows}


def _fresh_store(database_url: str | None, tmp_path: Path) -> tuple[Application[UUID], Store]:
    app: Application[UUID] = Application(store_env(database_url, str(tmp_path), "steps"))
    return app, Store(app.recorder)  # type: ignore[arg-type]


def test_a_failing_step_leaves_the_store_as_it_was(
    database_url: str | None, tmp_path: Path
) -> None:
    app, store = _fresh_store(database_url, tmp_path)

    def fail(tx: Tx) -> None:
        tx.execute("CREATE TABLE {half_made} (n INTEGER)")
        raise RuntimeError("step 2 fails")

    component = Component(
        "failing",
        (
            Step(1, "a table", lambda tx: tx.execute("CREATE TABLE {first_step} (n INTEGER)")),
            Step(2, "a failing step", fail),
        ),
    )
    with pytest.raises(RuntimeError, match="step 2 fails"):
        migrate(store, component)
    assert version(store, "failing") == 0
    assert not {"first_step", "half_made"} & _tables(store)  # all steps or none
    assert version(store) == RUNTIME.latest  # the runtime's steps are not affected
    app.close()


def test_a_step_added_later_is_the_only_one_applied(
    database_url: str | None, tmp_path: Path
) -> None:
    app, store = _fresh_store(database_url, tmp_path)
    ran: list[int] = []

    def step(number: int, statement: str) -> Step:
        def apply(tx: Tx) -> None:
            ran.append(number)
            tx.execute(statement)

        return Step(number, f"step {number}", apply)

    first = step(1, "CREATE TABLE {widgets} (id TEXT PRIMARY KEY)")
    second = step(2, "ALTER TABLE {widgets} ADD COLUMN colour TEXT")
    assert migrate(store, Component("widgets", (first,))) == Migrated("widgets", 0, 1)
    store.write(lambda tx: tx.execute("INSERT INTO {widgets} (id) VALUES ('w1')"))

    assert migrate(store, Component("widgets", (first, second))) == Migrated("widgets", 1, 2)
    assert ran == [1, 2]
    assert store.read("SELECT id, colour FROM {widgets}") == [{"id": "w1", "colour": None}]
    # An older release opening the store leaves it as it is (and says so in its log).
    assert migrate(store, Component("widgets", (first,))) == Migrated("widgets", 2, 2)
    assert ran == [1, 2]
    app.close()


def test_steps_are_numbered_from_one_in_order() -> None:
    noop = Step(1, "nothing", lambda tx: None)
    with pytest.raises(ValueError, match="numbered"):
        Component("bad", (Step(2, "nothing", lambda tx: None),))
    with pytest.raises(ValueError, match="numbered"):
        Component("bad", (noop, noop))
    assert Component("good", (noop,)).latest == 1
    assert [step.version for step in RUNTIME.steps] == list(range(1, RUNTIME.latest + 1))


def test_each_store_is_locked_by_its_own_name() -> None:
    from motcua.runtime.migrations import _lock_key

    keys = {_lock_key(name) for name in (*NAMES, "public", uuid.uuid4().hex)}
    assert len(keys) == len(NAMES) + 2
    assert all(-(2**63) <= key < 2**63 for key in keys)
