"""``motcua audit``: one dossier's full record from the topic, its chain verified; or
the working calendar's (``motcua audit calendar``): every day entered, by whom, when; or
the directory's (``motcua audit directory``): who held which step role at which agency
when, and who changed it.

The auditor's source is what every consumer saw: the messages of ``dossier-events``
(or an export of them, for an auditor without access to the broker). Each message is
read as plain JSON, never re-encoded, so the hashes are those of what was published.
The dossier's messages are on one partition (the key is the dossier id); only that
partition is read.

The chain (``contracts/chain.py``) is verified over the whole record, whatever
``--as-of`` says: a break after the moment of interest still matters. The end of each
producer's strand is checked against the head its store recorded when the stores can
be opened (an operator's machine); an export alone cannot prove that its last events
are complete, and the report says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from aiokafka.partitioner import DefaultPartitioner
from rich.console import Console
from rich.table import Table

from contracts.chain import Break, Head, verify
from contracts.intake import DIRECTORY_ID, WORKING_CALENDAR_ID
from motcua.core.calendar import VIETNAM_TZ
from motcua.runtime import topic_reader
from motcua.runtime.chaining import chain_head
from motcua.runtime.settings import Settings
from ops.republish import Source
from services.registry import SERVICES

PUBLISHERS = tuple(s.name for s in SERVICES if s.publishes_dossier_events)
CALENDAR = "calendar"  # what to audit instead of a code for the working calendar
DIRECTORY = "directory"  # … and for the directory of agencies and officers
STREAMS = {CALENDAR: WORKING_CALENDAR_ID, DIRECTORY: DIRECTORY_ID}

Event = Mapping[str, Any]

# Event type -> what the dossier's status is afterwards (None: unchanged).
STATUS_AFTER: dict[str, str | None] = {
    "DossierSubmitted": "submitted",
    "DossierCompletionRequested": "completion requested",
    "DossierResubmitted": "submitted",
    "DossierReceived": "received",
    "DossierIntakeRefused": "refused at intake",
    "StepStarted": "in process",
    "DossierHandedOver": "in process",
    "SupplementRequested": "waiting for a supplement",
    "SupplementProvided": "in process",
    "DossierApproved": "approved",
    "DossierRejected": "rejected",
    "ResultIssued": "result ready",
    "ResultReturned": "result returned",
    "DossierWithdrawn": "withdrawn",
}


@dataclass
class Audit:
    """A dossier's record, its chain's breaks, and how far the verification went."""

    events: list[Event]
    breaks: list[Break]
    anchored: bool
    notes: list[str] = field(default_factory=list)

    def as_of(self, moment: datetime | None) -> list[Event]:
        """The events that had happened at ``moment`` (all of them for None)."""
        if moment is None:
            return self.events
        return [e for e in self.events if occurred_at(e) <= moment]


def occurred_at(event: Event) -> datetime:
    return datetime.fromisoformat(str(event["occurred_at"]))


def audit(events: Sequence[Event], heads: Mapping[str, Head] | None) -> Audit:
    """Verify ``events`` (one dossier's); ``heads`` anchors each strand's end if known."""
    ordered = sorted(events, key=occurred_at)
    breaks = verify(ordered, heads)
    notes = (
        []
        if heads is not None
        else ["strand ends not checked against the stores: the last events could be missing"]
    )
    return Audit(ordered, breaks, heads is not None, notes)


def status_at(events: Sequence[Event]) -> dict[str, str | None]:
    """Where the dossier stood after ``events``: status, agency in charge, fees."""
    status: str | None = None
    agency: str | None = None
    fees: str | None = None
    for event in events:
        kind = str(event.get("type"))
        status = STATUS_AFTER.get(kind) or status
        if kind == "StepStarted":
            agency = f"{event.get('agency_code')} ({event.get('step_name')})"
        elif kind == "DossierHandedOver":
            agency = str(event.get("to_agency"))
        fees = _fees_after(kind, event) or fees
    return {"status": status, "agency": agency, "fees": fees}


def _fees_after(kind: str, event: Event) -> str | None:
    if kind == "FeeAssessed":
        return f"due {event.get('amount_vnd')} đ"
    if kind == "FeeWaived":
        return "waived"
    if kind == "PaymentSucceeded":
        return f"paid {event.get('amount_vnd')} đ"
    if kind == "RefundSucceeded":
        return f"refunded {event.get('amount_vnd')} đ"
    return None


def actor_of(event: Event) -> str:
    """Who acted: the officer, the agency, the applicant's account, or the producer."""
    for key in ("set_by", "removed_by", "registered_by", "officer", "answered_by", "cleared_by"):
        if event.get(key):
            return str(event[key])
    applicant = event.get("applicant")
    if isinstance(applicant, dict) and applicant.get("account"):
        return f"applicant {applicant['account']}"
    if event.get("agency_code"):
        return f"agency {event['agency_code']}"
    return f"{event.get('producer')} (automatic)"


def detail_of(event: Event) -> str:
    """What a change of the working calendar changed (empty for a dossier's events)."""
    kind = event.get("type")
    if kind == "WorkingDaySet":
        what = "day off" if event.get("kind") == "day_off" else "working day"
        return f"{event.get('day')} {what}: {event.get('reason')}"
    if kind == "WorkingDayCleared":
        return f"{event.get('day')} cleared: {event.get('reason')}"
    if kind == "OfficeHoursSet":
        sessions = ", ".join(f"{s['start']}–{s['end']}" for s in event.get("sessions", ()))
        return f"sessions {sessions}: {event.get('reason')}"
    if kind == "AgencyRegistered":
        return f"agency {event.get('code')} {event.get('name')}: {event.get('reason')}"
    if kind == "OfficerRolesSet":
        roles = " ".join(event.get("step_roles", ()))
        return (
            f"{event.get('officer')} at {event.get('agency_code')} as {roles}: "
            f"{event.get('reason')}"
        )
    if kind == "OfficerRemoved":
        return (
            f"{event.get('officer')} removed from {event.get('agency_code')}: {event.get('reason')}"
        )
    return ""


@dataclass(frozen=True)
class Tenure:
    """An officer's step roles at an agency, from one change of the directory to the next."""

    officer: str
    agency: str
    roles: str
    since: datetime
    set_by: str
    until: datetime | None = None
    ended_by: str | None = None


def tenures(events: Sequence[Event]) -> list[Tenure]:
    """Who held which step roles at which agency when, and who set and ended each, from
    the directory's events (in the order they occurred)."""
    held: dict[str, Tenure] = {}
    done: list[Tenure] = []
    for event in sorted(events, key=occurred_at):
        kind = event.get("type")
        if kind not in ("OfficerRolesSet", "OfficerRemoved"):
            continue
        officer, at, by = str(event.get("officer")), occurred_at(event), actor_of(event)
        if officer in held:
            done.append(replace(held.pop(officer), until=at, ended_by=by))
        if kind == "OfficerRolesSet":
            roles = " ".join(event.get("step_roles", ()))
            held[officer] = Tenure(officer, str(event.get("agency_code")), roles, at, by)
    return sorted([*done, *held.values()], key=lambda t: (t.officer, t.since))


def dossier_id_of(sources: Sequence[Source], code: str) -> UUID | None:
    """The dossier's id, from intake's lookup rows (the code is intake's to give); the
    calendar's stream for ``calendar``, the directory's for ``directory``."""
    if code in STREAMS:
        return STREAMS[code]
    intake = next(s for s in sources if s.name == "intake")
    row = intake.store.read_one("SELECT id FROM {intake_dossiers} WHERE code = ?", (code,))
    return UUID(row["id"]) if row else None


def store_heads(sources: Sequence[Source], dossier_id: UUID) -> dict[str, Head]:
    """Each publishing service's recorded head of the dossier's strand."""
    heads: dict[str, Head] = {}
    for source in sources:
        if source.name not in PUBLISHERS:
            continue
        head = chain_head(source.store, source.name, dossier_id)
        if head is not None:
            heads[source.name] = head
    return heads


async def read_topic(settings: Settings, dossier_id: UUID) -> list[Event]:
    """Every message of the dossier, as published (its partition, start to end)."""
    key = str(dossier_id).encode()

    def its_partition(numbers: list[int]) -> list[int]:
        return [DefaultPartitioner()(key, numbers, numbers)]

    records = await topic_reader.read_topic(
        settings, settings.dossier_topic, its_partition, missing_ok=True
    )
    return [json.loads(r.value) for r in records if r.key == key and r.value]


def read_export(path: Path) -> list[Event]:
    """An export: one message (JSON object) per line, as written by ``--export``."""
    events: list[Event] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except ValueError as error:
            raise ValueError(f"{path}:{number}: not a JSON message ({error})") from None
    return events


def write_export(events: Sequence[Event], path: Path) -> None:
    path.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8"
    )


def print_audit(console: Console, code: str, record: Audit, as_of: datetime | None) -> None:
    """The timeline (up to ``as_of``), where the dossier stood, and the chain's verdict."""
    shown = record.as_of(as_of)
    when = f" as of {as_of.astimezone(VIETNAM_TZ):%Y-%m-%d %H:%M}" if as_of else ""
    broken = {(b.producer, b.chain_seq) for b in record.breaks}
    what = {CALENDAR: "The working calendar", DIRECTORY: "The directory"}.get(
        code, f"Dossier {code}"
    )
    table = Table(title=f"{what}{when}: {len(shown)} of {len(record.events)} events")
    details = any(detail_of(e) for e in shown)
    for column in ("time (Vietnam)", "producer #", "event", "by", "chain"):
        table.add_column(column)
    if details:
        table.add_column("change")
    for event in shown:
        seq = int(event.get("chain_seq", 0))
        mark = "[red]✗[/]" if (event.get("producer"), seq) in broken else "[green]✓[/]"
        table.add_row(
            f"{occurred_at(event).astimezone(VIETNAM_TZ):%Y-%m-%d %H:%M:%S}",
            f"{event.get('producer')} {seq}",
            str(event.get("type")),
            actor_of(event),
            mark,
            *([detail_of(event)] if details else []),
        )
    console.print(table)
    if code == DIRECTORY:
        print_tenures(console, tenures(shown))
    else:
        state = status_at(shown)
        console.print(
            f"Status{when}: [bold]{state['status'] or 'not yet submitted'}[/]"
            + (f"; at {state['agency']}" if state["agency"] else "")
            + (f"; fees {state['fees']}" if state["fees"] else "")
        )
    _print_verdict(console, record)


def print_tenures(console: Console, held: Sequence[Tenure]) -> None:
    """Who held which step roles where, from when until when, set and ended by whom."""
    table = Table(title="Step roles held (Vietnam time)")
    for column in ("officer", "agency", "step roles", "from", "set by", "until", "ended by"):
        table.add_column(column)
    for t in held:
        until = f"{t.until.astimezone(VIETNAM_TZ):%Y-%m-%d %H:%M:%S}" if t.until else "now"
        table.add_row(t.officer, t.agency, t.roles,
                      f"{t.since.astimezone(VIETNAM_TZ):%Y-%m-%d %H:%M:%S}", t.set_by, until,
                      t.ended_by or "")  # fmt: skip
    console.print(table)


def _print_verdict(console: Console, record: Audit) -> None:
    for note in record.notes:
        console.print(f"[yellow]Note:[/] {note}")
    if not record.breaks:
        console.print(f"[green]Chain intact[/]: {len(record.events)} events verified.")
        return
    console.print(f"[red]Chain broken in {len(record.breaks)} place(s):[/]")
    for b in record.breaks:
        which = f" (event {b.event_id})" if b.event_id else ""
        console.print(f"  {b.producer} #{b.chain_seq}{which}: {b.problem}")
