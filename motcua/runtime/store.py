"""Each service's store: eventsourcing's recorder plus SQL tables in the same database.

Read models, relay and consumer positions live beside the events so that one
transaction can hold both: ``app.save(aggregate, writes=[fn])`` runs ``fn(tx)``
inside the transaction that records the aggregate's new events. That is what
makes projections and consumer tracking exactly-once in effect.

The same code runs on SQLite (embedded default, one file per service under
``var/``) and PostgreSQL (one schema per service), chosen by settings.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal
from urllib.parse import unquote, urlparse

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

Dialect = Literal["sqlite", "postgres"]
Write = Callable[["Tx"], None]

_TABLE = re.compile(r"\{(\w+)\}")


class Tx:
    """A cursor inside a store transaction, hiding the two SQL dialects' differences.

    Statements use ``?`` placeholders and ``{table}`` names; on PostgreSQL the names
    are qualified with the service's schema.
    """

    def __init__(self, cursor: Any, dialect: Dialect, schema: str | None) -> None:
        self.cursor = cursor
        self.dialect = dialect
        self.schema = schema

    @property
    def blob(self) -> str:
        return "BYTEA" if self.dialect == "postgres" else "BLOB"

    def sql(self, statement: str) -> str:
        prefix = f"{self.schema}." if self.dialect == "postgres" and self.schema else ""
        statement = _TABLE.sub(lambda m: prefix + m.group(1), statement)
        return statement.replace("?", "%s") if self.dialect == "postgres" else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        if self.dialect == "postgres":
            # Never server-side prepared: in psycopg's pipeline mode a transaction that
            # aborts (a version conflict, retried by the caller) loses the prepared
            # statement while psycopg's cache still believes it exists.
            self.cursor.execute(self.sql(statement), tuple(params), prepare=False)
        else:
            self.cursor.execute(self.sql(statement), tuple(params))

    def fetchone(self) -> dict[str, Any] | None:
        row = self.cursor.fetchone()
        return None if row is None else dict(row)

    def fetchall(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.cursor.fetchall()]

    def read(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """A query in this transaction, as ``Store.read`` in one of its own: the tables'
        owner modules take either (``Store | Tx``) to read inside a caller's transaction."""
        self.execute(statement, params)
        return self.fetchall()


def _run_writes(cursor: Any, dialect: Dialect, schema: str | None, kwargs: dict[str, Any]) -> None:
    writes: Iterable[Write] = kwargs.get("writes") or ()
    if writes:
        tx = Tx(cursor, dialect, schema)
        for write in writes:
            write(tx)


# The writes run *after* the events are inserted: a concurrent writer of the same
# aggregate version then fails on the event store's key (an IntegrityError that callers
# retry), never first on a read-model constraint such as a unique dossier code.


# A unit of work: given the transaction's cursor, does its reads and writes and returns
# the stored events to insert last, in the same transaction (see ``Store.record_unit``).
Work = Callable[["Tx"], Sequence[StoredEvent]]


class SQLiteRecorder(SQLiteApplicationRecorder):
    """SQLite application recorder that also runs the caller's ``writes`` in its transaction."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        refuse_inside_unit_of_work()
        return super().insert_events(stored_events, **kwargs)

    def record_unit(self, work: Work) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            stored = work(Tx(cursor, "sqlite", None))
            if stored:
                super()._insert_events(cursor, stored)

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        _run_writes(c, "sqlite", None, kwargs)
        return notification_ids


class PostgresRecorder(PostgresApplicationRecorder):
    """PostgreSQL application recorder that also runs the caller's ``writes`` in its transaction."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        refuse_inside_unit_of_work()
        ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
        return ids

    def record_unit(self, work: Work) -> None:
        schema = self.datastore.schema
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor() as cursor:
                stored = work(Tx(cursor, "postgres", schema))
            if stored:
                with conn.cursor() as cursor:
                    # The table lock and NOTIFY of the library's own insert, then the rows.
                    PostgresApplicationRecorder._insert_stored_events(self, cursor, stored)

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        if not stored_events:  # otherwise they run in _insert_stored_events, after the insert
            _run_writes(curs, "postgres", self.datastore.schema, kwargs)

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)
        # In pipeline mode the inserts are only queued. Sync first, so that a lost race
        # raises its unique violation here (an IntegrityError, which callers retry)
        # instead of "pipeline aborted" on the first of our writes (an OperationalError,
        # which nobody retries: seen with eight threads accepting dossiers at once).
        with curs.connection.pipeline() as pipeline:
            pipeline.sync()
        # A cursor of their own: the caller still reads the inserted ids from ``curs``.
        with curs.connection.cursor() as own:
            _run_writes(own, "postgres", self.datastore.schema, kwargs)


def store_env(database_url: str | None, var_dir: str, service: str) -> dict[str, str]:
    """The eventsourcing environment for ``service``: SQLite file or PostgreSQL schema."""
    if not database_url:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "APPLICATION_RECORDER_TOPIC": "motcua.runtime.store:SQLiteRecorder",
            "SQLITE_DBNAME": f"{var_dir}/{service}.db",
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    url = urlparse(database_url)
    if url.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"unsupported database URL scheme {url.scheme!r}; use postgresql://")
    ensure_schema(database_url, service)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": "motcua.runtime.store:PostgresRecorder",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": service,
        "POSTGRES_POOL_SIZE": "8",
        "POSTGRES_MAX_OVERFLOW": "8",
        "POSTGRES_LOCK_TIMEOUT": "30",
    }


def ensure_schema(database_url: str, schema: str) -> None:
    """Create the service's schema; eventsourcing creates tables but not schemas."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise ValueError(f"invalid schema name {schema!r}")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


_unit = threading.local()


@contextmanager
def inside_unit_of_work() -> Iterator[None]:
    """Marks this thread as applying consumed messages: everything it records must go
    through the unit of work, which commits it with the consumer's positions."""
    _unit.active = True
    try:
        yield
    finally:
        _unit.active = False


def refuse_inside_unit_of_work() -> None:
    """A consumer's handler that saved past its unit of work would commit its effects
    without the consumer's positions: exactly-once lost, silently. Fail loudly instead."""
    if getattr(_unit, "active", False):
        raise OutsideUnitOfWork(
            "a consumer handler recorded events or rows outside its unit of work; "
            "save through the unit of work it is given (uow.save / uow.write)"
        )


class OutsideUnitOfWork(RuntimeError):
    """Raised when a handler bypasses its unit of work (a programming error)."""


class Store:
    """SQL access to a service's database beside its eventsourcing recorder.

    Opening one brings the runtime's tables up to this release's schema
    (``migrations.py``), once, before anything reads or writes them: every service,
    operator's tool and test opens its store here, so none of them creates those."""

    def __init__(self, recorder: SQLiteApplicationRecorder | PostgresApplicationRecorder) -> None:
        self.recorder = recorder
        self.dialect: Dialect = "postgres" if isinstance(recorder, PostgresRecorder) else "sqlite"
        self.schema = recorder.datastore.schema if isinstance(recorder, PostgresRecorder) else None
        from motcua.runtime.migrations import migrate  # it builds on this module

        self.migrated = migrate(self)

    def write(self, *writes: Write) -> None:
        """Run ``writes`` in one transaction (no events)."""
        self.recorder.insert_events([], writes=list(writes))

    def record_unit(self, work: Work) -> None:
        """Run ``work`` in one transaction, then insert the events it returns in the same
        one: what a batch of consumed messages changes commits together or not at all.

        Unlike ``write``, the work's rows are written as it goes, so its later reads see
        them; the events come last. A lost race on an aggregate's version raises
        eventsourcing's ``IntegrityError`` and rolls everything back."""
        recorder = self.recorder
        assert isinstance(recorder, SQLiteRecorder | PostgresRecorder)
        recorder.record_unit(work)

    def read(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.recorder.datastore.transaction(commit=False) as cursor:
            tx = Tx(cursor, self.dialect, self.schema)
            tx.execute(statement, params)
            return tx.fetchall()

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        """A read-only transaction whose statements all see one committed state.

        For answers built from several queries: SQLite's deferred transaction holds one
        snapshot from its first read on; PostgreSQL needs REPEATABLE READ for the same
        (its default, READ COMMITTED, lets each statement see newer commits)."""
        with self.recorder.datastore.transaction(commit=False) as cursor:
            tx = Tx(cursor, self.dialect, self.schema)
            if self.dialect == "postgres":
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield tx

    def read_one(self, statement: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.read(statement, params)
        return rows[0] if rows else None
