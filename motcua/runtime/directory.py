"""The directory of agencies and officers as a service's store holds it:
``directory_agencies``, ``directory_officers`` and ``directory_state``.

The directory's changes are events on the topic (``AgencyRegistered``,
``OfficerRolesSet``, ``OfficerRemoved``, one stream keyed by ``DIRECTORY_ID``). Intake,
which owns the directory, writes these rows in the transaction that saves a change;
workflow, which assigns steps by it, writes them in the unit of work that consumes the
change. Each row keeps the version of the change that wrote it, and a change older than
the store's version is not applied again, so a redelivery or a replay leaves the
directory as it was.

The tables are created by each service's own migration component (intake's
``INTAKE_TABLES``, workflow's ``WORKFLOW_TABLES``) with ``create_tables``: a store that
never needs the directory does not hold them.
"""

from __future__ import annotations

from typing import Any

from contracts.intake import AgencyRegistered, OfficerRemoved, OfficerRolesSet
from motcua.runtime.store import Store, Tx, Write

DirectoryChange = AgencyRegistered | OfficerRolesSet | OfficerRemoved
DIRECTORY_CHANGES = (AgencyRegistered, OfficerRolesSet, OfficerRemoved)

CREATE = (
    """
    CREATE TABLE IF NOT EXISTS {directory_agencies} (
        code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        reason TEXT NOT NULL,
        changed_by TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        version INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS {directory_officers} (
        officer TEXT PRIMARY KEY,
        agency_code TEXT NOT NULL,
        step_roles TEXT NOT NULL,
        reason TEXT NOT NULL,
        changed_by TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        version INTEGER NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS directory_officers_by_agency "
    "ON {directory_officers} (agency_code, officer)",
    """
    CREATE TABLE IF NOT EXISTS {directory_state} (
        id INTEGER PRIMARY KEY,
        version INTEGER NOT NULL
    )
    """,
)


def create_tables(tx: Tx) -> None:
    """The directory's tables: a step of the migration component of each service that
    keeps the directory."""
    for statement in CREATE:
        tx.execute(statement)


def apply(change: DirectoryChange) -> Write:
    """The write recording a consumed ``change``, in the unit of work that consumes it."""
    at = change.occurred_at.isoformat()
    if isinstance(change, AgencyRegistered):
        return register_agency(
            change.code, change.name, change.reason, change.registered_by, at,
            change.directory_version,
        )  # fmt: skip
    if isinstance(change, OfficerRolesSet):
        return set_officer(
            change.officer, change.agency_code, change.step_roles, change.reason,
            change.set_by, at, change.directory_version,
        )  # fmt: skip
    return remove_officer(change.officer, change.directory_version)


def register_agency(code: str, name: str, reason: str, by: str, at: str, version: int) -> Write:
    """Enter the agency ``code`` (or correct its name)."""

    def write(tx: Tx) -> None:
        if _newer(tx, version):
            tx.execute(
                "INSERT INTO {directory_agencies} (code, name, reason, changed_by, changed_at, "
                "version) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET "
                "name = excluded.name, reason = excluded.reason, "
                "changed_by = excluded.changed_by, changed_at = excluded.changed_at, "
                "version = excluded.version",
                (code, name, reason, by, at, version),
            )
            _set_version(tx, version)

    return write


def set_officer(
    officer: str,
    agency: str,
    roles: tuple[str, ...],
    reason: str,
    by: str,
    at: str,
    version: int,
) -> Write:
    """The officer holds ``roles`` at ``agency`` from now on, and nothing elsewhere."""

    def write(tx: Tx) -> None:
        if _newer(tx, version):
            tx.execute(
                "INSERT INTO {directory_officers} (officer, agency_code, step_roles, reason, "
                "changed_by, changed_at, version) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (officer) DO UPDATE SET agency_code = excluded.agency_code, "
                "step_roles = excluded.step_roles, reason = excluded.reason, "
                "changed_by = excluded.changed_by, changed_at = excluded.changed_at, "
                "version = excluded.version",
                (officer, agency, " ".join(roles), reason, by, at, version),
            )
            _set_version(tx, version)

    return write


def remove_officer(officer: str, version: int) -> Write:
    """The officer is listed nowhere any more."""

    def write(tx: Tx) -> None:
        if _newer(tx, version):
            tx.execute("DELETE FROM {directory_officers} WHERE officer = ?", (officer,))
            _set_version(tx, version)

    return write


def _newer(tx: Tx, version: int) -> bool:
    """Whether the change ``version`` is not applied yet (a redelivery is ignored)."""
    return version > directory_version(tx)


def _set_version(tx: Tx, version: int) -> None:
    tx.execute(
        "INSERT INTO {directory_state} (id, version) VALUES (1, ?) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        (version,),
    )


def directory_version(source: Store | Tx) -> int:
    """The version of the last change applied (0: none yet)."""
    rows = source.read("SELECT version FROM {directory_state} WHERE id = 1")
    return int(rows[0]["version"]) if rows else 0


def agencies(source: Store | Tx) -> list[dict[str, object]]:
    """The registered agencies, by code, with who entered each and when."""
    return source.read(
        "SELECT code, name, reason, changed_by, changed_at, version "
        "FROM {directory_agencies} ORDER BY code"
    )


def officers(source: Store | Tx, agency: str | None = None) -> list[dict[str, Any]]:
    """The listed officers (of ``agency`` if given), by agency and subject, each with
    their step roles and who entered them when."""
    where, params = ("WHERE agency_code = ?", (agency,)) if agency else ("", ())
    return [
        _officer(row)
        for row in source.read(
            "SELECT officer, agency_code, step_roles, reason, changed_by, changed_at, version "
            f"FROM {{directory_officers}} {where} ORDER BY agency_code, officer",
            params,
        )
    ]


def officer(source: Store | Tx, sub: str) -> dict[str, Any] | None:
    """The officer's entry, or None when the directory does not list them."""
    rows = source.read(
        "SELECT officer, agency_code, step_roles, reason, changed_by, changed_at, version "
        "FROM {directory_officers} WHERE officer = ?",
        (sub,),
    )
    return _officer(rows[0]) if rows else None


def lists_officers_at(source: Store | Tx, agency: str) -> bool:
    """Whether the directory lists any officer at ``agency``."""
    return bool(
        source.read("SELECT 1 AS found FROM {directory_officers} WHERE agency_code = ?", (agency,))
    )


def _officer(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "step_roles": str(row["step_roles"]).split()}
