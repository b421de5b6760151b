"""The directory of agencies and officers: which officer holds which step role
(mot_cua, chuyen_vien, lanh_dao) at which agency, as an administrator enters it.

Intake owns the directory as it owns the working calendar: each change is an event of
one ``DirectoryLog`` aggregate (its id is ``DIRECTORY_ID``), published on the topic, so
workflow assigns steps by the same record, and a replay and ``motcua audit directory``
see every change with who made it, when and why. The change's rows
(``motcua.runtime.directory``) are saved in the same transaction.

An officer is listed at one agency; setting their roles at another moves them. An
agency must be registered before officers are listed at it.

The directory is the administrator's record. An officer's token also names step roles
(the identity provider's word at sign-in), and workflow lets the officer act on their
own by them; nothing a token says is written here.
"""

from __future__ import annotations

import re
from typing import Any

from eventsourcing.domain import event

from contracts.intake import AGENCY_CODE_PATTERN, DIRECTORY_ID
from motcua.core.errors import Invalid, NotFound
from motcua.core.retry import retry_on_conflict
from motcua.core.tracing import TracedAggregate
from motcua.runtime import directory as rows
from motcua.web.auth import Caller
from services.catalogue.procedures import STEP_ROLES
from services.intake.base import IntakeBase


class DirectoryLog(TracedAggregate):
    """Every change to the directory, numbered from 1 (``changes``: its version)."""

    @staticmethod
    def create_id() -> Any:
        return DIRECTORY_ID

    @event("Opened")
    def __init__(self) -> None:
        self.agencies: dict[str, str] = {}
        self.officers: dict[str, dict[str, Any]] = {}
        self.changes = 0

    @event("AgencyRegistered")
    def register_agency(
        self,
        *,
        code: str,
        name: str,
        reason: str,
        registered_by: str,
        directory_version: int,
        correlation_id: str,
    ) -> None:
        self.agencies[code], self.changes = name, directory_version

    @event("OfficerRolesSet")
    def set_officer(
        self,
        *,
        officer: str,
        agency_code: str,
        step_roles: list[str],
        reason: str,
        set_by: str,
        directory_version: int,
        correlation_id: str,
    ) -> None:
        if agency_code not in self.agencies:
            raise Invalid(
                f"agency {agency_code} is not in the directory: register it first "
                f"(PUT /v1/directory/agencies/{agency_code})"
            )
        self.officers[officer] = {"agency_code": agency_code, "step_roles": list(step_roles)}
        self.changes = directory_version

    @event("OfficerRemoved")
    def remove_officer(
        self,
        *,
        officer: str,
        agency_code: str,
        reason: str,
        removed_by: str,
        directory_version: int,
        correlation_id: str,
    ) -> None:
        if officer not in self.officers:
            raise NotFound(f"officer {officer} is not in the directory")
        del self.officers[officer]
        self.changes = directory_version


def check_agency_code(code: str) -> str:
    """``code`` if it has the shape of a QCVN 102:2016 code; ``Invalid`` saying why not."""
    if not re.fullmatch(AGENCY_CODE_PATTERN, code):
        raise Invalid(
            f"{code!r} is not an agency code of the form QCVN 102:2016 gives: four groups "
            "of 3, 2, 2 and 3 digits or capital letters joined by dots, e.g. 000.00.22.H23",
            details=[{"agency": code, "pattern": AGENCY_CODE_PATTERN}],
        )
    return code


def check_step_roles(roles: list[str]) -> list[str]:
    """The roles without repeats, in the vocabulary's order; ``Invalid`` for an unknown
    role or none."""
    unknown = [r for r in roles if r not in STEP_ROLES]
    if unknown or not roles:
        what = f"unknown step role(s) {', '.join(unknown)}" if unknown else "no step role"
        raise Invalid(
            f"{what}: an officer holds one or more of {', '.join(STEP_ROLES)} "
            "(to list an officer with none, remove them from the directory)",
            details=[{"step_roles": roles, "allowed": list(STEP_ROLES)}],
        )
    return [r for r in STEP_ROLES if r in roles]


class DirectoryMixin(IntakeBase):
    """The administrator's changes to the directory, and the directory as it stands."""

    def _directory(self) -> DirectoryLog:
        return self._log_or_new(DIRECTORY_ID, DirectoryLog)

    @retry_on_conflict
    def register_agency(
        self, caller: Caller, code: str, name: str, reason: str, *, correlation_id: str
    ) -> int:
        """Enter an agency (or correct its name); returns the directory's version. The
        same name again changes nothing."""
        caller.require("admin")
        check_agency_code(code)
        log = self._directory()
        if log.agencies.get(code) == name:
            return log.changes
        version = log.changes + 1
        log.register_agency(
            code=code,
            name=name,
            reason=reason,
            registered_by=caller.sub,
            directory_version=version,
            correlation_id=correlation_id,
        )
        at = self.clock().isoformat()
        self.save(log, writes=[rows.register_agency(code, name, reason, caller.sub, at, version)])
        return version

    @retry_on_conflict
    def set_officer(
        self,
        caller: Caller,
        sub: str,
        agency: str,
        step_roles: list[str],
        reason: str,
        *,
        correlation_id: str,
    ) -> int:
        """List ``sub`` at ``agency`` with ``step_roles`` (replacing what they held); the
        same entry again changes nothing."""
        caller.require("admin")
        check_agency_code(agency)
        roles = check_step_roles(step_roles)
        log = self._directory()
        if log.officers.get(sub) == {"agency_code": agency, "step_roles": roles}:
            return log.changes
        version = log.changes + 1
        log.set_officer(
            officer=sub,
            agency_code=agency,
            step_roles=roles,
            reason=reason,
            set_by=caller.sub,
            directory_version=version,
            correlation_id=correlation_id,
        )
        at = self.clock().isoformat()
        write = rows.set_officer(sub, agency, tuple(roles), reason, caller.sub, at, version)
        self.save(log, writes=[write])
        return version

    @retry_on_conflict
    def remove_officer(self, caller: Caller, sub: str, reason: str, *, correlation_id: str) -> int:
        """The officer is listed nowhere any more (404 if they were not listed)."""
        caller.require("admin")
        log = self._directory()
        held = log.officers.get(sub)
        if held is None:
            raise NotFound(f"officer {sub} is not in the directory")
        version = log.changes + 1
        log.remove_officer(
            officer=sub,
            agency_code=held["agency_code"],
            reason=reason,
            removed_by=caller.sub,
            directory_version=version,
            correlation_id=correlation_id,
        )
        self.save(log, writes=[rows.remove_officer(sub, version)])
        return version

    def directory_agencies(self, caller: Caller) -> dict[str, Any]:
        caller.require("admin")
        return {
            "version": rows.directory_version(self.store),
            "agencies": rows.agencies(self.store),
        }

    def directory_officers(self, caller: Caller, agency: str | None) -> dict[str, Any]:
        """The officers the directory lists (at ``agency`` if given): the administrator's
        record only, never what officers' tokens say."""
        caller.require("admin")
        if agency is not None:
            check_agency_code(agency)
        return {
            "version": rows.directory_version(self.store),
            "officers": rows.officers(self.store, agency),
        }
