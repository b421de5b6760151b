"""How workflow's domain events become contract events on ``dossier-events``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from contracts import workflow as wf
from contracts.envelope import Envelope
from contracts.intake import DossierWithdrawn
from motcua.runtime.envelope import envelope
from motcua.runtime.mapping import BatchAggregates
from services.workflow.application import WorkflowApplication
from services.workflow.domain import Process, finished_late

PRODUCER = "workflow"

Build = Callable[[Any, Process], dict[str, Any]]


def _step(e: Any, p: Process) -> dict[str, Any]:
    s = p.steps[e.index] if hasattr(e, "index") else p.step
    return {"step_index": p.steps.index(s), "step_id": s["id"], "agency_code": s["agency_code"]}


def _step_started(e: Any, p: Process) -> dict[str, Any]:
    s = p.step
    return {
        **_step(e, p),
        "step_name": s["name"],
        "role": s["role"],
        "started_on": e.started_on,
        "due_date": e.due_date,
        "due_at": getattr(e, "due_at", None),
    }


def _completed(e: Any, p: Process) -> dict[str, Any]:
    s = p.steps[p.current]
    return {
        **_step(e, p),
        "officer": s["officer"],
        "notes": e.notes,
        "documents": e.documents,
        "completed_on": e.completed_on,
        "late": finished_late(s),
        "role": getattr(e, "role", None),
    }


def _handed_over(e: Any, p: Process) -> dict[str, Any]:
    # Loaded at the HandedOver version: the next step has not started yet.
    return {
        "from_agency": p.agency,
        "to_agency": p.steps[p.current + 1]["agency_code"],
        "step_index": p.current + 1,
        "officer": e.officer,
    }


def _result(e: Any, p: Process) -> dict[str, Any]:
    fields = {
        "agency_code": p.agency,
        "officer": e.officer,
        "kind": e.kind,
        "document": e.document,
        "issued_at": e.issued_at,
    }
    if getattr(e, "timeliness", None) is not None:
        # Judged when issued, against the statutory appointment (an apology's date
        # never makes a late result on time).
        return {
            **fields,
            "appointment_date": p.statutory_appointment_date,
            "appointment_at": p.statutory_appointment_at,
            "timeliness": e.timeliness,
        }
    # Issued before the statutory appointment was kept apart: published as it was then,
    # so that publishing it again gives the same message (stats judges lateness itself).
    timeliness = (
        "early"
        if e.issued_on < p.appointment_date
        else "on_time"
        if e.issued_on == p.appointment_date
        else "late"
    )
    return {**fields, "appointment_date": p.appointment_date, "timeliness": timeliness}


RULES: dict[str, tuple[type[Envelope], Build]] = {
    "StepStarted": (wf.StepStarted, _step_started),
    "StepClaimed": (
        wf.StepClaimed,
        lambda e, p: {
            "step_index": p.current,
            "agency_code": p.agency,
            "officer": e.officer,
            "assigned_by": e.assigned_by,
            "role": getattr(e, "role", None),
        },
    ),
    "StepCompleted": (wf.StepCompleted, _completed),
    "HandedOver": (wf.DossierHandedOver, _handed_over),
    "SupplementRequested": (
        wf.SupplementRequested,
        lambda e, p: {
            "agency_code": p.agency,
            "officer": e.officer,
            "reason": e.reason,
            "documents": e.documents,
            "requested_on": e.requested_on,
        },
    ),
    "SupplementProvided": (
        wf.SupplementProvided,
        lambda e, p: {
            "documents": e.documents,
            "provided_on": e.provided_on,
            "paused_working_days": e.paused_working_days,
            "appointment_date": e.appointment_date,
            "appointment_at": getattr(e, "appointment_at", None),
        },
    ),
    "Approved": (
        wf.DossierApproved,
        lambda e, p: {
            "agency_code": p.agency,
            "officer": e.officer,
            "notes": e.notes,
            "role": getattr(e, "role", None),
        },
    ),
    "Rejected": (
        wf.DossierRejected,
        lambda e, p: {
            "agency_code": p.agency,
            "officer": e.officer,
            "reason": e.reason,
            "role": getattr(e, "role", None),
        },
    ),
    "ResultIssued": (wf.ResultIssued, _result),
    "ResultReturned": (
        wf.ResultReturned,
        lambda e, p: {"officer": e.officer, "method": e.method, "returned_on": e.returned_on},
    ),
    "StepOverdue": (
        wf.StepOverdue,
        lambda e, p: {**_step(e, p), "due_date": p.steps[e.index]["due_date"]},
    ),
    "Overdue": (
        wf.DossierOverdue,
        lambda e, p: {
            "appointment_date": p.appointment_date,
            "responsible_agency": e.responsible_agency,
            "late_agencies": e.late_agencies,
        },
    ),
    "ApologyIssued": (
        wf.ApologyIssued,
        lambda e, p: {
            "agency_code": e.agency_code,
            "officer": e.officer,
            "reason": e.reason,
            "previous_appointment_date": e.previous_appointment_date,
            "appointment_date": e.appointment_date,
        },
    ),
    "Withdrawn": (DossierWithdrawn, lambda e, p: {"reason": e.reason, "withdrawn_by": e.by}),
}


class WorkflowPublisher:
    """Maps workflow's stored events to contract events (None for internal ones)."""

    def __init__(self, app: WorkflowApplication) -> None:
        self.app = app

    def __call__(
        self, event: DomainEventProtocol[UUID], aggregates: BatchAggregates
    ) -> Envelope | None:
        rule = RULES.get(type(event).__name__)
        if rule is None:
            return None  # Started, PaymentRecorded: internal
        model, build = rule
        process: Process = aggregates.at(event)
        return model.model_validate({**envelope(PRODUCER, event), **build(event, process)})
