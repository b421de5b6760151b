"""Submission: a new dossier, online by the applicant or at the counter or by post.

Its own module because submitting has rules nothing else has: who may submit by which
channel, the applicant's details taken from the form, and idempotency, which lets a
portal that lost the answer send the same submission again without creating a second
dossier.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from motcua.core.errors import Invalid
from motcua.web.auth import Caller
from services.catalogue.procedures import Procedure
from services.intake.access import check_agency
from services.intake.base import IntakeBase
from services.intake.domain import Dossier
from services.intake.forms import check_form


def _submission_id(submitter: str, idempotency_key: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"motcua:intake:submission:{submitter}:{idempotency_key}")


class SubmissionMixin(IntakeBase):
    """``submit``: records a dossier once per idempotency key."""

    def submit(
        self,
        caller: Caller,
        *,
        procedure_id: str,
        form_data: dict[str, Any],
        documents: list[dict[str, str]],
        channel: str,
        notify_by: list[str],
        applicant_account: str | None = None,
        postal_tracking_number: str | None = None,
        delivery_address: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        correlation_id: str,
    ) -> UUID:
        """Record a new dossier; online by the applicant, counter/post by a one-stop officer.

        With an ``idempotency_key`` the dossier's id is derived from the submitter and
        the key, so a portal that retries after a lost answer gets the dossier it
        already created instead of a second one (the store refuses a second "created"
        event for the same id, even when two retries race).
        """
        dossier_id = _submission_id(caller.sub, idempotency_key) if idempotency_key else None
        if dossier_id is not None and (existing := self._existing(dossier_id)) is not None:
            return existing
        procedure = self.procedure(procedure_id)
        account = self._check_submitter(caller, procedure, channel, applicant_account)
        _check_post(channel, postal_tracking_number)
        clean = check_form(procedure, form_data)
        dossier = Dossier.submitted(
            dossier_id,
            procedure_id=procedure.id,
            procedure_name=procedure.name,
            level=procedure.level,
            agency_code=procedure.receiving_agency.code,
            channel=channel,
            applicant=_applicant(clean, account, notify_by),
            form_data=clean,
            documents=self._documents(procedure, documents),
            submitted_by=caller.sub,
            correlation_id=correlation_id,
        )
        if postal_tracking_number or delivery_address:
            dossier.record_postal(
                tracking_number=postal_tracking_number,
                delivery_address=delivery_address,
                correlation_id=correlation_id,
            )
        # Not @retry_on_conflict: a lost race here is not run again. It means another
        # attempt with the same key created the dossier first, and that dossier is the
        # answer; without a key (or with no dossier found) the error is raised as it is.
        try:
            self.save(dossier, writes=self._rows(dossier))
        except IntegrityError:
            if dossier_id is None or self._existing(dossier_id) is None:
                raise
        return dossier.id

    def _existing(self, dossier_id: UUID) -> UUID | None:
        try:
            return cast(UUID, self.repository.get(dossier_id).id)
        except AggregateNotFoundError:
            return None

    def _check_submitter(
        self, caller: Caller, procedure: Procedure, channel: str, account: str | None
    ) -> str | None:
        if channel == "online":
            caller.require("citizen")
            if "online" not in procedure.submission_methods:
                raise Invalid(
                    f"procedure {procedure.id} is a level-{procedure.level} service and does "
                    "not take online submissions; apply at the counter or by post"
                )
            return caller.sub
        caller.require("officer")
        check_agency(caller, procedure.receiving_agency.code)
        return account


def _check_post(channel: str, tracking_number: str | None) -> None:
    """A dossier received by post is entered with its parcel's tracking number, so that
    the register says which parcel it came in; no other dossier has one."""
    if channel == "post" and not tracking_number:
        raise Invalid("a dossier received by post needs the postal tracking number of its parcel")
    if channel != "post" and tracking_number:
        raise Invalid(f"a postal tracking number is for dossiers received by post, not {channel}")


def _applicant(form: dict[str, Any], account: str | None, notify_by: list[str]) -> dict[str, Any]:
    return {
        "account": account,
        "full_name": form.get("ho_ten", ""),
        "id_number": form.get("so_dinh_danh", ""),
        "phone": form.get("so_dien_thoai"),
        "email": form.get("email"),
        "notify_by": sorted(set(notify_by) | {"inbox"}) if account else sorted(set(notify_by)),
    }
