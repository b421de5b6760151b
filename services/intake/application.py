"""IntakeApplication: submission, one-stop acceptance with the legal code, lookup,
and what the applicant says afterwards: the rating and feedback with its answers.

Commands load aggregates, change them and save them together with the read-model
rows of the dossier (its lookup row in ``intake_dossiers``, its view in
``intake_dossier_views``) in one transaction, so the lookup tables can never disagree
with the events. The lookup itself reads those rows, never the aggregate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, cast
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder

from motcua.core.calendar import add_working_days, local_date
from motcua.core.clock import Clock, system_clock
from motcua.core.errors import Conflict, Forbidden, Invalid, NotFound
from motcua.core.transcoding import DateAsISO
from motcua.runtime.attachments import Attachments
from motcua.runtime.store import Store, Write
from motcua.web.auth import Caller, agency_scope
from services.catalogue.procedures import ACCOUNT_CLAIMS, Catalogue, Procedure
from services.intake.domain import DailySequence, Dossier
from services.intake.dossier_view import DossierViews, timeline_entry
from services.intake.forms import check_documents, check_form
from services.intake.progress import Progress
from services.intake.readmodel import create_tables, dossier_row, feedback_row

ACCEPT_ATTEMPTS = 50
CHANGE_ATTEMPTS = 5


def _submission_id(submitter: str, idempotency_key: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"motcua:intake:submission:{submitter}:{idempotency_key}")


NO_MATCH = "no dossier matches that code and ID number"


@dataclass(frozen=True)
class Parties:
    """What the access rules ask of a dossier: its applicant's account and ID number,
    its agency and its code (from the aggregate, or from the dossier's view)."""

    account: str | None
    id_number: str
    agency_code: str
    code: str | None

    @classmethod
    def of(cls, dossier: Dossier) -> Parties:
        return cls(
            dossier.applicant.get("account"),
            dossier.applicant["id_number"],
            dossier.agency_code,
            dossier.code,
        )

    @classmethod
    def of_view(cls, document: dict[str, Any]) -> Parties:
        return cls(
            document["applicant_account"],
            document["applicant_id_number"],
            document["agency_code"],
            document["code"],
        )


class IntakeApplication(Application[UUID]):
    """Intake's commands and queries; every state change is an event in its store."""

    name = "intake"
    snapshotting_intervals = {DailySequence: 100}  # noqa: RUF012 (eventsourcing's API)

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        catalogue: Catalogue,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(env)
        self.catalogue = catalogue
        self.clock: Clock = clock or system_clock
        self.store = Store(self.recorder)  # type: ignore[arg-type]
        self.store.write(create_tables)
        self.attachments = Attachments(self.store)
        self.progress = Progress(self.store)
        self.views = DossierViews(self, self.store)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # -- attachments ------------------------------------------------------------------

    def store_attachment(self, data: bytes, content_type: str, uploaded_by: str) -> dict[str, Any]:
        """Keep a scanned document once, named by the SHA-256 of its content (I-5)."""
        return self.attachments.put(data, content_type, uploaded_by, self.clock())

    def _documents(self, procedure: Procedure, refs: list[dict[str, str]]) -> list[dict[str, Any]]:
        check_documents(procedure, [r["document_id"] for r in refs])
        return self.attachments.describe(refs)

    # -- commands ---------------------------------------------------------------------

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
        self._check_agency(caller, procedure.receiving_agency.code)
        return account

    def request_completion(
        self,
        caller: Caller,
        dossier_id: UUID,
        *,
        reason: str,
        missing_documents: list[str],
        correlation_id: str,
    ) -> None:
        dossier = self._for_officer(caller, dossier_id)
        dossier.request_completion(
            reason=reason,
            missing_documents=missing_documents,
            requested_by=caller.sub,
            correlation_id=correlation_id,
        )
        self.save(dossier, writes=self._rows(dossier))

    def resubmit(
        self,
        caller: Caller,
        dossier_id: UUID,
        *,
        form_data: dict[str, Any],
        documents: list[dict[str, str]],
        correlation_id: str,
    ) -> None:
        dossier = self._dossier(dossier_id)
        parties = Parties.of(dossier)
        if not self._is_applicant(caller, parties) and not self._is_officer_of(caller, parties):
            raise NotFound("no such dossier")
        procedure = self.procedure(dossier.procedure_id)
        dossier.resubmit(
            form_data=check_form(procedure, form_data),
            documents=self._documents(procedure, documents),
            resubmitted_by=caller.sub,
            correlation_id=correlation_id,
        )
        self.save(dossier, writes=self._rows(dossier))

    def accept(self, caller: Caller, dossier_id: UUID, *, correlation_id: str) -> str:
        """Accept at the one-stop: assign the code and the appointment date (I-1, I-2)."""
        for _attempt in range(ACCEPT_ATTEMPTS):
            dossier = self._for_officer(caller, dossier_id)
            dossier.check_awaiting_acceptance("accept")
            now = self.clock()
            today = local_date(now)
            sequence = self._sequence(dossier.agency_code, today)
            sequence.issue(dossier.id)
            procedure = self.procedure(dossier.procedure_id)
            dossier.receive(
                code=sequence.code_for_last(),
                received_at=now,
                appointment_date=add_working_days(today, procedure.time_limit_working_days),
                time_limit_working_days=procedure.time_limit_working_days,
                received_by=caller.sub,
                correlation_id=correlation_id,
            )
            try:
                self.save(sequence, dossier, writes=self._rows(dossier))
            except IntegrityError:
                # Another acceptance took the same number first: reload and retry.
                time.sleep(random.uniform(0, 0.01))
                continue
            assert dossier.code is not None
            return dossier.code
        raise Conflict("too many simultaneous acceptances at this unit; please try again")

    def refuse(self, caller: Caller, dossier_id: UUID, *, reason: str, correlation_id: str) -> None:
        dossier = self._for_officer(caller, dossier_id)
        dossier.refuse(reason=reason, refused_by=caller.sub, correlation_id=correlation_id)
        self.save(dossier, writes=self._rows(dossier))

    def withdraw(
        self, caller: Caller, dossier_id: UUID, *, reason: str, correlation_id: str
    ) -> None:
        dossier = self._dossier(dossier_id)
        if not self._is_applicant(caller, Parties.of(dossier)):
            raise NotFound("no such dossier")
        dossier.withdraw(reason=reason, withdrawn_by=caller.sub, correlation_id=correlation_id)
        self.save(dossier, writes=self._rows(dossier))

    # -- after the result: rating and feedback (S-3, F-1) ------------------------------

    def rate(
        self,
        caller: Caller | None,
        ref: str,
        id_number: str | None,
        *,
        rating: int,
        comment: str,
        correlation_id: str,
    ) -> None:
        """The applicant rates the dossier once its result is out (by account or lookup)."""
        dossier, account = self._for_applicant(caller, ref, id_number, "đánh giá", "rate")

        def change(d: Dossier) -> list[Write]:
            d.rate(
                rating=rating,
                comment=comment,
                rated_by=account,
                result_issued=self.progress.result_issued(str(d.id)),
                correlation_id=correlation_id,
            )
            return []  # the lookup row keeps workflow's status: only the view is written

        self._change(dossier.id, change)

    def send_feedback(
        self,
        caller: Caller | None,
        ref: str,
        id_number: str | None,
        *,
        kind: str,
        text: str,
        correlation_id: str,
    ) -> UUID:
        """The applicant's feedback or complaint; it waits in the agency's queue."""
        dossier, account = self._for_applicant(caller, ref, id_number, "gửi phản ánh", "send")
        feedback_id = str(uuid4())

        def change(d: Dossier) -> list[Write]:
            d.send_feedback(
                feedback_id=feedback_id,
                kind=kind,
                text=text,
                sent_by=account,
                correlation_id=correlation_id,
            )
            return [feedback_row(d, feedback_id)]

        self._change(dossier.id, change)
        return UUID(feedback_id)

    def answer_feedback(
        self,
        caller: Caller,
        dossier_id: UUID,
        feedback_id: UUID,
        *,
        answer: str,
        correlation_id: str,
    ) -> None:
        """An officer of the dossier's agency answers, once; other agencies get 403."""
        self._for_officer(caller, dossier_id)
        agency = caller.agency
        assert agency is not None  # an officer's token always names the agency

        def change(d: Dossier) -> list[Write]:
            d.answer_feedback(
                feedback_id=str(feedback_id),
                answer=answer,
                agency_code=agency,
                answered_by=caller.sub,
                correlation_id=correlation_id,
            )
            return [feedback_row(d, str(feedback_id))]

        self._change(dossier_id, change)

    def feedback_queue(
        self, caller: Caller, answered: bool | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Feedback to the caller's agency (all agencies for an admin), oldest first."""
        where, params = agency_scope(caller)
        if answered is not None:
            where.append("answered_at IS NOT NULL" if answered else "answered_at IS NULL")
        return self.store.read(
            f"SELECT * FROM {{intake_feedback}} WHERE {' AND '.join(where)} "
            "ORDER BY sent_at ASC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

    def _for_applicant(
        self, caller: Caller | None, ref: str, id_number: str | None, act_vi: str, act: str
    ) -> tuple[Dossier, str | None]:
        """The dossier and the applicant's account (None when identified by code + ID number).

        Whoever may not even see the dossier gets the lookup's 404; officers and admins
        who may see it are still not its applicant (403). A counter applicant without an
        account identifies with the lookup's credentials: the code and their ID number.
        """
        dossier = self.find(ref, caller, id_number)
        parties = Parties.of(dossier)
        if caller is not None and self._is_applicant(caller, parties):
            return dossier, caller.sub
        stranger_role = caller is not None and caller.role != "citizen"
        if not stranger_role and _holds_lookup(parties, ref, id_number):
            return dossier, None
        raise Forbidden(
            f"Chỉ người nộp hồ sơ mới được {act_vi}. Only the dossier's applicant may {act} here"
        )

    def _change(self, dossier_id: UUID, change: Callable[[Dossier], list[Write]]) -> None:
        """Load, change and save the dossier with its view; a concurrent save makes it
        start again.

        The rerun sees the other change, so two simultaneous ratings end with one saved and
        the other refused as a second rating (409), never with a server error.
        """
        for _attempt in range(CHANGE_ATTEMPTS):
            dossier = self._dossier(dossier_id)
            writes = change(dossier)
            try:
                self.save(dossier, writes=[*writes, self.views.row(dossier)])
            except IntegrityError:
                time.sleep(random.uniform(0, 0.01))
                continue
            return
        raise Conflict("the dossier is being changed by someone else; please try again")

    # -- queries ----------------------------------------------------------------------

    def lookup(self, caller: Caller | None, ref: str, id_number: str | None) -> dict[str, Any]:
        """The lookup's answer by id or code, if the caller may see it; ``NotFound`` otherwise.

        Read from the dossier's view row with the other services' reports, in one store
        snapshot; the form and the documents only for the parties. A dossier saved before
        those rows existed is built from the aggregate once, and its row kept. Strangers
        get the same answer for a wrong code as for a wrong ID number, so a lookup never
        reveals that a code exists.
        """
        found = self.views.find(ref)
        if found is not None and found.document is None:
            dossier = self._dossier(found.dossier_id)
            if self._may_see(caller, Parties.of(dossier), ref, id_number):
                self.views.keep(dossier, self.own_timeline(dossier))
                found = self.views.find(ref)
        if found is None or found.document is None:
            raise NotFound(NO_MATCH)
        parties = Parties.of_view(found.document)
        if not self._may_see(caller, parties, ref, id_number):
            raise NotFound(NO_MATCH)
        return found.answer(privileged=self.is_party(caller, parties))

    def find(self, ref: str, caller: Caller | None, id_number: str | None) -> Dossier:
        """The dossier by id or code, if the caller may see it (as for the lookup), for
        the commands and the receipt; ``NotFound`` otherwise."""
        row = self.store.read_one(
            "SELECT id FROM {intake_dossiers} WHERE code = ? OR id = ?", (ref, ref)
        )
        dossier = self._dossier(UUID(row["id"])) if row else None
        if dossier is None or not self._may_see(caller, Parties.of(dossier), ref, id_number):
            raise NotFound(NO_MATCH)
        return dossier

    def is_party(self, caller: Caller | None, parties: Parties) -> bool:
        """The applicant, an officer of the dossier's agency, or an admin: sees everything."""
        return caller is not None and (
            caller.role == "admin"
            or self._is_applicant(caller, parties)
            or self._is_officer_of(caller, parties)
        )

    def _may_see(
        self, caller: Caller | None, parties: Parties, ref: str, id_number: str | None
    ) -> bool:
        return self.is_party(caller, parties) or _holds_lookup(parties, ref, id_number)

    def own_timeline(self, dossier: Dossier) -> list[dict[str, Any]]:
        """Intake's events of the dossier as the public timeline shows them, up to the
        state loaded: never a newer one, so the document built with it is one state."""
        return [timeline_entry(e) for e in self.events.get(dossier.id, lte=dossier.version)]

    def list_for_applicant(self, account: str, limit: int, offset: int) -> list[dict[str, Any]]:
        return self.store.read(
            "SELECT * FROM {intake_dossiers} WHERE applicant_account = ? "
            "ORDER BY submitted_at DESC LIMIT ? OFFSET ?",
            (account, limit, offset),
        )

    def list_for_agency(
        self, caller: Caller, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """The one-stop queue of the caller's agency (all agencies for an admin)."""
        where, params = agency_scope(caller)
        if status:
            where.append("status = ?")
            params.append(status)
        return self.store.read(
            f"SELECT * FROM {{intake_dossiers}} WHERE {' AND '.join(where)} "
            "ORDER BY submitted_at ASC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

    def prefill(self, caller: Caller, procedure_id: str) -> dict[str, dict[str, Any]]:
        """Values for the procedure's form from the account and earlier dossiers (I-4)."""
        caller.require("citizen")
        procedure = self.procedure(procedure_id)
        account = {field: getattr(caller, claim) for field, claim in ACCOUNT_CLAIMS.items()}
        previous: dict[str, Any] = {}
        for row in reversed(self.list_for_applicant(caller.sub, 50, 0)):
            previous.update(self._dossier(UUID(row["id"])).form_data)
        result: dict[str, dict[str, Any]] = {}
        for spec in procedure.fields:
            if account.get(spec.name):
                value = account[spec.name]
                value = value.isoformat() if isinstance(value, date) else value
                result[spec.name] = {"value": value, "source": "account"}
            elif spec.name in previous:
                result[spec.name] = {"value": previous[spec.name], "source": "previous"}
        return result

    # -- helpers ----------------------------------------------------------------------

    def _rows(self, dossier: Dossier) -> list[Write]:
        """The dossier's read-model rows: its lookup row and its view."""
        return [dossier_row(dossier), self.views.row(dossier)]

    def procedure(self, procedure_id: str) -> Procedure:
        """The catalogue entry, or ``NotFound``."""
        return self.catalogue.require(procedure_id)

    def _dossier(self, dossier_id: UUID) -> Dossier:
        try:
            dossier: Dossier = self.repository.get(dossier_id)
        except AggregateNotFoundError:
            raise NotFound("no such dossier") from None
        return dossier

    def _sequence(self, agency_code: str, day: date) -> DailySequence:
        try:
            sequence: DailySequence = self.repository.get(DailySequence.create_id(agency_code, day))
        except AggregateNotFoundError:
            sequence = DailySequence(agency_code, day)
        return sequence

    def _for_officer(self, caller: Caller, dossier_id: UUID) -> Dossier:
        caller.require("officer")
        dossier = self._dossier(dossier_id)
        self._check_agency(caller, dossier.agency_code)
        return dossier

    @staticmethod
    def _check_agency(caller: Caller, agency_code: str) -> None:
        if caller.agency != agency_code:
            raise Forbidden(f"the dossier is at agency {agency_code}; you act for {caller.agency}")

    @staticmethod
    def _is_applicant(caller: Caller, parties: Parties) -> bool:
        return caller.role == "citizen" and parties.account == caller.sub

    @staticmethod
    def _is_officer_of(caller: Caller, parties: Parties) -> bool:
        return caller.role == "officer" and caller.agency == parties.agency_code


def _applicant(form: dict[str, Any], account: str | None, notify_by: list[str]) -> dict[str, Any]:
    return {
        "account": account,
        "full_name": form.get("ho_ten", ""),
        "id_number": form.get("so_dinh_danh", ""),
        "phone": form.get("so_dien_thoai"),
        "email": form.get("email"),
        "notify_by": sorted(set(notify_by) | {"inbox"}) if account else sorted(set(notify_by)),
    }


def _holds_lookup(parties: Parties, ref: str, id_number: str | None) -> bool:
    """The public lookup's credentials: the dossier's code and the applicant's ID number."""
    return id_number is not None and parties.code == ref and id_number.strip() == parties.id_number
