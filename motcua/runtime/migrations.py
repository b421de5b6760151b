"""The runtime's tables, in numbered steps, and the ``schema_version`` table of each store.

Why steps. The tables a store holds beside its events (the consumer's positions, the
relays' positions and leases, the chains' heads, the attachments) used to be created by
whichever constructor needed them first, with ``CREATE TABLE IF NOT EXISTS``. That keeps
a table of an older release exactly as it was: nothing could ever change its shape, and
nothing said what shape a store was in. Now each change is a step, numbered, applied
once per store and recorded in the store's ``schema_version`` table, so a store of any
earlier release is brought forward by the steps it has not had, in order.

Why in ``Store``. Every store is opened through ``Store`` (``store.py``): its constructor
calls ``migrate`` before anything reads or writes a row, so a service's composition root,
an operator's tool (``motcua republish``, ``audit``, ``replay``) and a test all find the
tables as this release expects them. ``motcua migrate`` does the same for the stores of
one service or all of them, without starting anything.

Why a lock. Two processes of one service may start at once (two instances sharing a
PostgreSQL schema, or the embedded stack restarting one beside an operator's tool). The
steps run in one transaction that first takes the store's lock, then reads the version
again: the second process waits, finds the steps applied and does nothing. On SQLite the
lock is the database's write lock, taken at ``BEGIN IMMEDIATE`` (the library's
``BEGIN`` would let both read the version, then fail the second's write); on PostgreSQL
a transaction-level advisory lock named after the service's schema (not a table lock:
before the first step there is no table to lock, and two ``CREATE TABLE IF NOT EXISTS``
at once can fail). DDL is transactional on both, so a failing step leaves the store as
it was, its version unchanged: the steps a call applies commit together or not at all.

Steps are history: once released, a step never changes; a new shape is a new step. The
tables' rows are read and written only by their owner module (``docs/architecture.md``,
"Runtime tables and migrations"). A service may version tables of its own the same way,
with a ``Component`` of its own name: each component's steps are numbered on their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from eventsourcing.sqlite import SQLiteApplicationRecorder

from motcua.runtime import access_counts, working_calendar
from motcua.runtime.store import Store, Tx, Write

log = structlog.get_logger(__name__)

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS {schema_version} (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)
"""


@dataclass(frozen=True)
class Step:
    """One change of a component's tables: ``apply`` runs in the migration's transaction."""

    version: int
    description: str
    apply: Write


@dataclass(frozen=True)
class Component:
    """A set of tables versioned together: its steps numbered 1, 2, 3, … in order."""

    name: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        numbers = [step.version for step in self.steps]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"{self.name}: steps must be numbered 1, 2, 3, … ({numbers})")

    @property
    def latest(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class Migrated:
    """What ``migrate`` found and left: the component's version before and after."""

    component: str
    before: int
    after: int

    @property
    def applied(self) -> tuple[int, ...]:
        """The steps this call applied (none when another process had applied them)."""
        return tuple(range(self.before + 1, self.after + 1))


def _attachments(tx: Tx) -> None:
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


# Step 1 is the schema as the releases before versioning created it, table by table, in
# the statements they ran: on a store of theirs it finds every table it created (``IF NOT
# EXISTS`` keeps them and their rows as they are) and adds those it had not needed yet
# (``chain_heads`` before a relay first published, for example).
_STEP_1 = (
    # positions.py: the tracked consumer's next offset per partition, and the highest
    # outbox position applied per partition and producer.
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
    # relay.py: each relay's last published notification and its lease.
    """
    CREATE TABLE IF NOT EXISTS {relay_positions} (
        relay TEXT PRIMARY KEY,
        position BIGINT NOT NULL,
        owner TEXT,
        lease_until DOUBLE PRECISION NOT NULL
    )
    """,
    # chaining.py: the head of each producer's strand of each dossier's chain.
    """
    CREATE TABLE IF NOT EXISTS {chain_heads} (
        producer TEXT NOT NULL,
        dossier_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (producer, dossier_id)
    )
    """,
)


def _step_1(tx: Tx) -> None:
    for statement in _STEP_1:
        tx.execute(statement)
    _attachments(tx)  # attachments.py: files by the SHA-256 of their content


def _step_2(tx: Tx) -> None:
    for statement in working_calendar.CREATE:
        tx.execute(statement)


def _step_3(tx: Tx) -> None:
    tx.execute(access_counts.CREATE)


RUNTIME = Component(
    "runtime",
    (
        Step(
            1,
            "consumer_offsets, consumer_watermarks, relay_positions, chain_heads, attachments",
            _step_1,
        ),
        Step(2, "calendar_days, calendar_state: the working calendar", _step_2),
        Step(3, "access_counts: requests per day, route, method, role and status", _step_3),
    ),
)


def version(store: Store, component: str = RUNTIME.name) -> int:
    """The last step of ``component`` the store has had (0: none, or no version table)."""
    if not _has_version_table(store):
        return 0
    row = store.read_one(
        "SELECT MAX(version) AS version FROM {schema_version} WHERE component = ?",
        (component,),
    )
    return int(row["version"]) if row and row["version"] is not None else 0


def migrate(store: Store, component: Component = RUNTIME) -> Migrated:
    """Apply the steps of ``component`` the store has not had yet, in order, once.

    Safe to call from every process that opens the store, at the same time: see the
    module's docstring. A store already at the latest version costs two reads and takes
    no lock."""
    before = version(store, component.name)
    if before >= component.latest:
        if before > component.latest:
            log.warning(
                "store schema newer than this release",
                component=component.name,
                store_version=before,
                release_version=component.latest,
            )
        return Migrated(component.name, before, before)
    with _exclusive(store) as tx:
        tx.execute(VERSION_TABLE)
        tx.execute(
            "SELECT MAX(version) AS version FROM {schema_version} WHERE component = ?",
            (component.name,),
        )
        row = tx.fetchone()
        before = int(row["version"]) if row and row["version"] is not None else 0
        for step in component.steps[before:]:
            step.apply(tx)
            tx.execute(
                "INSERT INTO {schema_version} (component, version, description, applied_at) "
                "VALUES (?, ?, ?, ?)",
                (component.name, step.version, step.description, _now()),
            )
    after = max(before, component.latest)
    if after > before:
        log.info("store migrated", component=component.name, before=before, after=after)
    return Migrated(component.name, before, after)


def applied_steps(store: Store) -> list[dict[str, object]]:
    """Every step the store has had, of every component, in order (for operators)."""
    if not _has_version_table(store):
        return []
    return store.read(
        "SELECT component, version, description, applied_at FROM {schema_version} "
        "ORDER BY component, version"
    )


def _has_version_table(store: Store) -> bool:
    if store.dialect == "postgres":
        found = store.read(
            "SELECT 1 AS found FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = 'schema_version'",
            (store.schema or "public",),
        )
    else:
        found = store.read(
            "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
    return bool(found)


@contextmanager
def _exclusive(store: Store) -> Iterator[Tx]:
    """A write transaction that no other process migrating the same store runs beside."""
    recorder = store.recorder
    if isinstance(recorder, SQLiteApplicationRecorder):
        # The library's transactions begin DEFERRED: two processes could both read the
        # version, then one fail to upgrade its read lock. IMMEDIATE takes the write lock
        # first, waiting for it up to the store's lock timeout.
        with recorder.datastore.get_connection(commit=True) as conn, conn.cursor() as cursor:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(cursor, "sqlite", None)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        return
    with recorder.datastore.transaction(commit=True) as cursor:
        tx = Tx(cursor, "postgres", store.schema)
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_lock_key(store.schema or "public"),))
        yield tx


def _lock_key(schema: str) -> int:
    """The advisory lock of a schema's migrations: a stable signed 64-bit number."""
    digest = hashlib.blake2b(f"motcua.migrations:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
