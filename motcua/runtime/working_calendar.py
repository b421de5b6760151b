"""The province's working calendar as a service's store holds it: ``calendar_days`` and
``calendar_state``.

The calendar's changes are events on the topic (``WorkingDaySet``, ``WorkingDayCleared``,
``OfficeHoursSet``, one stream keyed by ``WORKING_CALENDAR_ID``). Intake, which owns the
calendar, writes these rows in the transaction that saves a change; every other service
that counts time writes them in the unit of work that consumes the change. Each row
keeps the version of the change that wrote it, and a change older than the store's
version is not applied again, so a redelivery or a replay leaves the calendar as it was.

``load`` reads the version first (one small row) and the whole calendar only when it
changed, so a service may ask for the calendar on every computation.
"""

from __future__ import annotations

import json
from datetime import date, time
from threading import Lock
from types import MappingProxyType

from contracts.intake import OfficeHoursSet, WorkingDayCleared, WorkingDaySet
from motcua.core.calendar import DEFAULT_SESSIONS, Session, WorkingCalendar
from motcua.runtime.store import Store, Tx, Write

CalendarChange = WorkingDaySet | WorkingDayCleared | OfficeHoursSet
CALENDAR_CHANGES = (WorkingDaySet, WorkingDayCleared, OfficeHoursSet)

# The tables, created by step 2 of ``migrations.RUNTIME`` in every store.
CREATE = (
    """
    CREATE TABLE IF NOT EXISTS {calendar_days} (
        day TEXT PRIMARY KEY,
        working INTEGER NOT NULL,
        reason TEXT NOT NULL,
        changed_by TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        version INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS {calendar_state} (
        id INTEGER PRIMARY KEY,
        version INTEGER NOT NULL,
        sessions TEXT
    )
    """,
)


def apply(change: CalendarChange) -> Write:
    """The write recording a consumed ``change``, in the unit of work that consumes it."""
    at = change.occurred_at.isoformat()
    if isinstance(change, WorkingDaySet):
        working = change.kind == "working_day"
        return set_day(
            change.day, working, change.reason, change.set_by, at, change.calendar_version
        )
    if isinstance(change, WorkingDayCleared):
        return clear_day(change.day, change.calendar_version)
    sessions = tuple(Session(s.start, s.end) for s in change.sessions)
    return set_sessions(sessions, change.calendar_version)


def set_day(day: date, working: bool, reason: str, by: str, at: str, version: int) -> Write:
    """Enter ``day`` as worked or not, whatever the holiday rules say."""

    def write(tx: Tx) -> None:
        if _newer(tx, version):
            tx.execute(
                "INSERT INTO {calendar_days} (day, working, reason, changed_by, changed_at, "
                "version) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (day) DO UPDATE SET "
                "working = excluded.working, reason = excluded.reason, "
                "changed_by = excluded.changed_by, changed_at = excluded.changed_at, "
                "version = excluded.version",
                (day.isoformat(), int(working), reason, by, at, version),
            )
            _set_state(tx, version, None)

    return write


def clear_day(day: date, version: int) -> Write:
    """Remove an entered day: the holiday rules and the weekday decide it again."""

    def write(tx: Tx) -> None:
        if _newer(tx, version):
            tx.execute("DELETE FROM {calendar_days} WHERE day = ?", (day.isoformat(),))
            _set_state(tx, version, None)

    return write


def set_sessions(sessions: tuple[Session, ...], version: int) -> Write:
    """The office sessions of every working day from now on."""
    text = json.dumps(
        [[s.start.isoformat("minutes"), s.end.isoformat("minutes")] for s in sessions]
    )

    def write(tx: Tx) -> None:
        if _newer(tx, version):
            _set_state(tx, version, text)

    return write


def _newer(tx: Tx, version: int) -> bool:
    """Whether the change ``version`` is not applied yet (a redelivery is ignored)."""
    return version > _version(tx)


def _set_state(tx: Tx, version: int, sessions: str | None) -> None:
    tx.execute(
        "INSERT INTO {calendar_state} (id, version, sessions) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
        "sessions = COALESCE(excluded.sessions, {calendar_state}.sessions)",
        (version, sessions),
    )


def _version(source: Store | Tx) -> int:
    rows = source.read("SELECT version FROM {calendar_state} WHERE id = 1")
    return int(rows[0]["version"]) if rows else 0


def entered_days(source: Store | Tx) -> list[dict[str, object]]:
    """The entered days, in date order, with who entered each and when."""
    return [
        {**row, "working": bool(row["working"])}
        for row in source.read(
            "SELECT day, working, reason, changed_by, changed_at, version "
            "FROM {calendar_days} ORDER BY day"
        )
    ]


class CalendarReader:
    """The store's calendar, read again only when its version moved."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = Lock()
        self._cached = WorkingCalendar()

    def __call__(self, tx: Tx | None = None) -> WorkingCalendar:
        source: Store | Tx = self.store if tx is None else tx
        version = _version(source)
        cached = self._cached
        if version == cached.version:
            return cached
        calendar = _load(source, version)
        with self._lock:
            if calendar.version >= self._cached.version:
                self._cached = calendar
        return calendar


def _load(source: Store | Tx, version: int) -> WorkingCalendar:
    rows = source.read("SELECT sessions FROM {calendar_state} WHERE id = 1")
    stored = rows[0]["sessions"] if rows else None
    sessions = (
        tuple(Session(time.fromisoformat(a), time.fromisoformat(b)) for a, b in json.loads(stored))
        if stored
        else DEFAULT_SESSIONS
    )
    days = {
        date.fromisoformat(str(row["day"])): bool(row["working"])
        for row in source.read("SELECT day, working FROM {calendar_days}")
    }
    return WorkingCalendar(days=MappingProxyType(days), sessions=sessions, version=version)
