"""Intake's lookup read model: intake's part of ``GET /v1/dossiers/{ref}`` in one row.

Applicants poll the lookup (signed in, or by the dossier's code and their ID number)
and officers open it from their queue; built from the aggregate, each answer replayed
the dossier and read its events a second time for the timeline. The
``intake_dossier_views`` row holds what intake's own events say instead, written in the
transaction of every save of the dossier (``row``): the dossier as it stands, who may
see it, and its own timeline extended by the events of that save. One row is one state:
the fields and the timeline beside them always belong to the same version.

What the other services report stays where intake's consumer writes it (``progress.py``):
their public steps in ``intake_progress``, the status and appointment they set on the
lookup row (``intake_dossiers``). ``find`` reads both with the document in one store
snapshot, and ``Found.answer`` puts them together as the lookup did from the aggregate.

A dossier saved before the table existed has no row: its first read builds the
document from the aggregate and keeps it (``keep``); a save that finds no row (or an
older one than its events follow) takes the earlier timeline from the stored events, in
its own transaction. Both writes keep the newer version when they race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application

from motcua.core.calendar import VIETNAM_TZ
from motcua.runtime.documents import (
    create_document_table,
    decode_document,
    entries_before,
    upsert_document,
)
from motcua.runtime.store import Store, Tx, Write
from services.intake.domain import Dossier
from services.intake.progress import Progress

# What the answer shows of the document as it is; status, appointment, timeline, the
# form and the documents are put together by ``Found.answer``.
VIEW_FIELDS = (
    "id",
    "code",
    "procedure_id",
    "procedure_name",
    "agency_code",
    "channel",
    "applicant_name",
    "received_at",
    "reason",
    "rating",
    "feedback",
)
# Only for the parties: the applicant, the officers of the agency, an admin.
PRIVATE_FIELDS = ("form_data", "documents")

_DETAILS = (
    "code",
    "appointment_date",
    "reason",
    "missing_documents",
    "channel",
    "rating",
    "comment",
    "feedback_id",
    "kind",
    "text",
    "answer",
)


def create_table(tx: Tx) -> None:
    create_document_table(tx, "intake_dossier_views")


def timeline_entry(event: Any) -> dict[str, Any]:
    """One of intake's events as the public timeline shows it: what, when, by whom."""
    return {
        "event": type(event).__qualname__.split(".")[-1],
        "at": cast(Any, event).timestamp,
        "by": _actor(event),
        "details": {k: getattr(event, k) for k in _DETAILS if hasattr(event, k)},
    }


def view_document(dossier: Dossier, timeline: list[dict[str, Any]]) -> dict[str, Any]:
    """What intake knows of this state of the dossier, with its timeline given for it."""
    return {
        "id": dossier.id,
        "code": dossier.code,
        "status": dossier.status,
        "procedure_id": dossier.procedure_id,
        "procedure_name": dossier.procedure_name,
        "agency_code": dossier.agency_code,
        "channel": dossier.channel,
        "applicant_name": dossier.applicant["full_name"],
        "applicant_account": dossier.applicant.get("account"),
        "applicant_id_number": dossier.applicant["id_number"],
        "received_at": dossier.received_at,
        "appointment_date": dossier.appointment_date,
        "appointment_at": dossier.appointment_at,
        "reason": dossier.reason,
        "rating": dossier.rating,
        "feedback": [
            {
                "feedback_id": feedback_id,
                "kind": item["kind"],
                "text": item["text"],
                "answer": item["answer"],
                "agency_code": item.get("agency_code"),  # who answered, never the officer
            }
            for feedback_id, item in dossier.feedback.items()
        ],
        "timeline": timeline,
        "form_data": dossier.form_data,
        "documents": dossier.documents,
    }


@dataclass(frozen=True)
class Found:
    """A dossier's view row, read in one snapshot with what the other services reported:
    the status and appointment on its lookup row, their steps (``later``)."""

    dossier_id: UUID
    document: dict[str, Any] | None  # None: saved before the table existed
    status: str
    appointment_date: str | None
    appointment_at: str | None  # UTC ISO text; None: a date only (or none yet)
    later: list[dict[str, Any]]

    def answer(self, privileged: bool) -> dict[str, Any]:
        """The lookup's answer; the form and the documents only when ``privileged``.

        Before acceptance intake's own state is the truth; afterwards the status and
        appointment follow the other services' reports. The timeline is sorted by time
        because intake's own events also come after the others' (a rating follows the
        result, feedback may come at any moment)."""
        document = self.document
        assert document is not None
        status, appointment = document["status"], document["appointment_date"]
        moment = document.get("appointment_at")  # absent from documents of older releases
        if appointment is not None and self.appointment_date is not None:
            status, appointment = self.status, date.fromisoformat(self.appointment_date)
            moment = self.appointment_at and datetime.fromisoformat(self.appointment_at)
        return {
            **{k: document[k] for k in VIEW_FIELDS},
            "status": status,
            "appointment_date": appointment,
            "appointment_at": moment and _local(moment),
            "timeline": sorted(document["timeline"] + self.later, key=lambda e: e["at"]),
            **{k: document[k] if privileged else None for k in PRIVATE_FIELDS},
        }


def _local(moment: datetime | str) -> datetime:
    """A moment in Vietnam time, as the receipt and the lookup show it."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value.astimezone(VIETNAM_TZ)


class DossierViews:
    """Writes, reads and (for dossiers older than the table) builds the view rows."""

    def __init__(self, app: Application[UUID], store: Store) -> None:
        self.app, self.store = app, store
        store.write(create_table)

    def row(self, dossier: Dossier) -> Write:
        """The row of the dossier as it now stands, to write in the transaction that
        records its new events (taken now: ``app.save`` collects them before writing)."""
        new = [timeline_entry(e) for e in dossier.pending_events]
        first = dossier.version - len(new) + 1  # the version of the first new event
        state = view_document(dossier, [])

        def write(tx: Tx) -> None:
            earlier = entries_before(
                self.app, tx, "intake_dossier_views", "timeline", dossier.id, first, timeline_entry
            )
            _upsert(tx, dossier, {**state, "timeline": earlier + new})

        return write

    def find(self, ref: str) -> Found | None:
        """The dossier with that code or id, its view and the others' reports."""
        with self.store.snapshot() as tx:
            tx.execute(
                "SELECT d.id, d.status, d.appointment_date, d.appointment_at, v.document "
                "FROM {intake_dossiers} d "
                "LEFT JOIN {intake_dossier_views} v ON v.dossier_id = d.id "
                "WHERE d.code = ? OR d.id = ?",
                (ref, ref),
            )
            row = tx.fetchone()
            if row is None:
                return None
            document = row["document"]
            return Found(
                dossier_id=UUID(row["id"]),
                document=None if document is None else decode_document(document),
                status=row["status"],
                appointment_date=row["appointment_date"],
                appointment_at=row["appointment_at"],
                later=Progress.timeline(tx, row["id"]) if document is not None else [],
            )

    def keep(self, dossier: Dossier, timeline: list[dict[str, Any]]) -> None:
        """Write the document of a dossier that has no row yet, for the next reads."""
        document = view_document(dossier, timeline)
        self.store.write(lambda tx: _upsert(tx, dossier, document))


def _upsert(tx: Tx, dossier: Dossier, document: dict[str, Any]) -> None:
    upsert_document(tx, "intake_dossier_views", dossier.id, dossier.version, document)


def _actor(event: Any) -> str | None:
    if hasattr(event, "answered_by"):
        agency: str = event.agency_code  # the agency answers; its officer stays internal
        return agency
    for name in ("submitted_by", "requested_by", "resubmitted_by", "received_by", "refused_by"):
        if hasattr(event, name):
            value: str = getattr(event, name)
            return value
    for name in ("rated_by", "sent_by"):
        if hasattr(event, name):
            account: str | None = getattr(event, name)
            return account
    return getattr(event, "withdrawn_by", None)
