"""A synthetic year on ``dossier-events``: the messages the pipeline would have published.

The replay and catch-up benchmarks need realistic messages by the hundred thousand in
seconds, far faster than the services (or pydantic) can make them, so each event is
built here as the JSON form of its contract, with the shapes, sizes and mix the pipeline
gives: the catalogue's procedures and their multi-agency processes, intake's submission
and receipt, every step started, claimed and completed, hand-overs, supplements, overdue
steps and dossiers, apologies, fees paid or waived, refunds, refusals, withdrawals,
results, and the notices notify delivers on each applicant's channels, and ratings. A
unit test checks every generated event against the contracts
(``tests/unit/test_replay.py``).

Messages are keyed by dossier id and carry the ``producer``, ``position`` and ``type``
headers the outbox relay sets; each producer's positions ascend in topic order and a
dossier's events come in the order they happened.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import random
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.catalogue.procedures import Procedure, load_catalogue

Headers = list[tuple[str, bytes]]
YEAR_START = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
EVENTS_PER_DOSSIER = 31  # about what the lives below give, to spread dossiers over a year
NOTICE_CHANNELS = (("inbox",), ("inbox", "email"), ("inbox", "email", "sms"))
FIRST_NAMES = ("NGUYỄN VĂN AN", "TRẦN THỊ BÌNH", "LÊ MINH CHÂU", "PHẠM QUỐC DŨNG", "VŨ THỊ HÀ")


@dataclass(frozen=True)
class Message:
    """One Kafka message as the relay sends it."""

    key: bytes
    value: bytes
    headers: Headers
    type: str


@dataclass
class Life:
    """One dossier's events in the order they happen (time, producer, type, fields)."""

    rng: random.Random
    procedure: Procedure
    received_at: datetime
    dossier_id: str = ""
    events: list[tuple[datetime, str, str, dict[str, Any]]] = field(default_factory=list)
    seq: dict[str, int] = field(default_factory=dict)
    last_id: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dossier_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, at: datetime, producer: str, kind: str, /, **fields: Any) -> str:
        """Append an event: envelope, chain fields, then the event's own fields."""
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        seq = self.seq.get(producer, 0) + 1
        previous = self.last_id.get(producer)
        self.seq[producer], self.last_id[producer] = seq, event_id
        prev_hash = hashlib.sha256(previous.encode()).hexdigest() if previous else None
        body = {
            "schema_version": 1,
            "event_id": event_id,
            "dossier_id": self.dossier_id,
            "occurred_at": _iso(at),
            "producer": producer,
            "correlation_id": self.dossier_id,
            "chain_seq": seq,
            "prev_hash": prev_hash,
            "type": kind,
            **fields,
        }
        self.events.append((at, producer, kind, body))
        return event_id


def year_of_messages(
    count: int, seed: int = 1, partitions: int = 6, left_out: Collection[str] = ()
) -> Iterator[Message]:
    """``count`` messages of dossiers received over a year, in publication order.

    The events of the producers ``left_out`` are not among them, as a service that was
    down finds the topic: the others went on publishing, it did not (the catch-up
    benchmark). Positions number each producer's messages as they are published."""
    rng = random.Random(seed)
    procedures = list(load_catalogue())
    spacing = timedelta(days=365) * EVENTS_PER_DOSSIER / max(count, 1)
    positions: dict[str, int] = {}
    pending: list[tuple[datetime, int, str, str, dict[str, Any]]] = []
    tie = itertools.count()
    emitted = 0
    for n in itertools.count():
        received_at = YEAR_START + spacing * n
        while pending and pending[0][0] <= received_at:
            if emitted == count:
                return
            entry = heapq.heappop(pending)
            if entry[2] in left_out:
                continue
            yield _message(entry, positions)
            emitted += 1
        life = dossier_life(rng, rng.choice(procedures), received_at)
        for at, producer, kind, body in life.events:
            heapq.heappush(pending, (at, next(tie), producer, kind, body))


def _message(
    entry: tuple[datetime, int, str, str, dict[str, Any]], positions: dict[str, int]
) -> Message:
    _, _, producer, kind, body = entry
    position = positions[producer] = positions.get(producer, 0) + 1
    headers = [
        ("producer", producer.encode()),
        ("position", str(position).encode()),
        ("type", kind.encode()),
    ]
    value = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Message(body["dossier_id"].encode(), value, headers, kind)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day(at: datetime) -> str:
    return at.date().isoformat()


# -- one dossier's life -------------------------------------------------------------------


def dossier_life(rng: random.Random, procedure: Procedure, received_at: datetime) -> Life:
    """Submission, receipt, fees, the process step by step, the outcome, the notices."""
    life = Life(rng, procedure, received_at)
    channel = rng.choices(("online", "counter", "post"), (70, 25, 5))[0]
    notify_by = rng.choice(NOTICE_CHANNELS)
    if channel == "online":
        life.add(
            received_at - timedelta(hours=3),
            "intake",
            "DossierSubmitted",
            **_facts(life, channel, notify_by),
            submitted_by="citizen-1",
        )
    if rng.random() < 0.02:
        _notice(
            life,
            received_at,
            "refused",
            notify_by,
            life.add(
                received_at,
                "intake",
                "DossierIntakeRefused",
                reason="Hồ sơ không thuộc thẩm quyền",
                refused_by="officer-1",
            ),
        )
        return life
    appointment = received_at + timedelta(days=procedure.time_limit_working_days * 1.4 + 1)
    received = life.add(
        received_at,
        "intake",
        "DossierReceived",
        **_facts(life, channel, notify_by),
        code=f"{procedure.receiving_agency.code}-{received_at:%y%m%d}-{rng.randint(1, 9999):04d}",
        received_at=_iso(received_at),
        appointment_date=_day(appointment),
        time_limit_working_days=procedure.time_limit_working_days,
        received_by="officer-1",
    )
    _notice(life, received_at + timedelta(seconds=2), "received", notify_by, received)
    fee = _fees(life, received_at + timedelta(seconds=3), notify_by)
    _process(life, received_at + timedelta(minutes=1), appointment, notify_by, fee)
    return life


def _facts(life: Life, channel: str, notify_by: tuple[str, ...]) -> dict[str, Any]:
    """What intake publishes of the dossier: procedure, applicant, form, documents."""
    p, rng = life.procedure, life.rng
    id_number = f"0{rng.randint(10, 96):02d}{rng.randint(0, 10**9 - 1):09d}"
    name = rng.choice(FIRST_NAMES)
    return {
        "procedure_id": p.id,
        "procedure_name": p.name,
        "level": p.level,
        "agency_code": p.receiving_agency.code,
        "channel": channel,
        "applicant": {
            "account": f"citizen-{id_number}" if channel == "online" else None,
            "full_name": name,
            "id_number": id_number,
            "phone": f"09{rng.randint(0, 10**8 - 1):08d}",
            "email": f"{id_number}@example.vn" if "email" in notify_by else None,
            "notify_by": list(notify_by),
        },
        "form_data": _form(p, name, id_number),
        "documents": [
            {
                "document_id": d.id,
                "filename": f"{d.id}.pdf",
                "content_type": "application/pdf",
                "size": rng.randint(40_000, 900_000),
                "sha256": hashlib.sha256(f"{id_number}{d.id}".encode()).hexdigest(),
            }
            for d in p.documents
            if d.required
        ],
    }


def _form(p: Procedure, name: str, id_number: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in p.fields:
        if f.type == "id_number":
            values[f.name] = id_number
        elif f.type in ("integer", "decimal"):
            values[f.name] = int(f.min_value or 1) + 1
        elif f.type == "select":
            values[f.name] = f.options[0]
        elif f.type == "date":
            values[f.name] = "2026-01-15"
        elif f.type == "phone":
            values[f.name] = "0912000001"
        elif f.type == "email":
            values[f.name] = "lienhe@example.vn"
        elif f.required:
            values[f.name] = name if "ten" in f.name else "Số 1, đường Lê Lợi"
    return values


def _notice(life: Life, at: datetime, kind: str, channels: tuple[str, ...], source: str) -> None:
    for i, channel in enumerate(channels):
        recipient = {"inbox": "citizen-1", "email": "n***@example.vn", "sms": "09******01"}
        life.add(
            at + timedelta(seconds=1 + i),
            "notify",
            "NoticeDelivered",
            notice_id=str(uuid.UUID(int=life.rng.getrandbits(128), version=4)),
            source_event_id=source,
            kind=kind,
            channel=channel,
            recipient=recipient[channel],
            attempts=1,
        )


def _fees(life: Life, at: datetime, notify_by: tuple[str, ...]) -> int:
    """Fee assessed, then paid online within two days (or waived); the amount paid."""
    rng, fees = life.rng, life.procedure.fees
    amount = sum(f.amount_vnd or f.unit_amount_vnd * 2 for f in fees)
    if not fees or amount == 0 or rng.random() < 0.08:
        if fees:
            life.add(at, "payment", "FeeWaived", reason="Đối tượng được miễn")
        return 0
    code = f"PC{rng.randint(0, 10**10 - 1):010d}"
    items = [{"name": f.name, "amount_vnd": f.amount_vnd or f.unit_amount_vnd * 2} for f in fees]
    assessed = life.add(
        at,
        "payment",
        "FeeAssessed",
        payment_code=code,
        amount_vnd=amount,
        items=items,
        payment_url=f"https://dvc.example.vn/pay/{code}",
    )
    _notice(life, at, "fee_due", notify_by, assessed)
    paid_at = at + timedelta(hours=rng.uniform(0.1, 48))
    paid = life.add(
        paid_at,
        "payment",
        "PaymentSucceeded",
        payment_code=code,
        amount_vnd=amount,
        method="online",
        paid_at=_iso(paid_at),
        transaction_id=f"VNPAY{rng.randint(0, 10**12):012d}",
        attempt_id=f"A{rng.randint(0, 10**8):08d}",
        receipt_number=f"BL-{rng.randint(0, 10**7):07d}",
        after_expiry=False,
    )
    _notice(life, paid_at, "payment_confirmed", notify_by, paid)
    return amount


def _process(
    life: Life, at: datetime, appointment: datetime, notify_by: tuple[str, ...], fee: int
) -> None:
    """The steps in order; on the way a supplement, overdue steps, a refusal or a result."""
    rng, steps = life.rng, life.procedure.process
    late_agency: str | None = None
    ending = rng.random()
    for index, step in enumerate(steps):
        agency = step.agency.code
        due = at + timedelta(days=float(step.working_days) * 1.4)
        life.add(
            at,
            "workflow",
            "StepStarted",
            step_index=index,
            step_id=step.id,
            step_name=step.name,
            agency_code=agency,
            role=step.role,
            started_on=_day(at),
            due_date=_day(due),
        )
        at += timedelta(minutes=rng.uniform(5, 240))
        life.add(
            at,
            "workflow",
            "StepClaimed",
            step_index=index,
            agency_code=agency,
            officer=f"officer@{agency}",
            assigned_by="leader-1",
        )
        if index == 1 and rng.random() < 0.08:
            at = _supplement(life, at, agency, notify_by)
        if index == 1 and ending < 0.05:
            life.add(
                at,
                "workflow",
                "DossierRejected",
                agency_code=agency,
                officer=f"officer@{agency}",
                reason="Không đủ điều kiện",
            )
            _refund(life, at, fee)
            return
        at += timedelta(hours=rng.uniform(1, 60))
        late = at > due + timedelta(days=1) and rng.random() < 0.5
        if late:
            life.add(
                due + timedelta(days=1),
                "workflow",
                "StepOverdue",
                step_index=index,
                step_id=step.id,
                agency_code=agency,
                due_date=_day(due),
            )
            late_agency = late_agency or agency
        life.add(
            at,
            "workflow",
            "StepCompleted",
            step_index=index,
            step_id=step.id,
            agency_code=agency,
            officer=f"officer@{agency}",
            notes="Đã xử lý",
            documents=[],
            completed_on=_day(at),
            late=late,
        )
        if index == len(steps) - 2:
            life.add(
                at,
                "workflow",
                "DossierApproved",
                agency_code=agency,
                officer=f"leader@{agency}",
                notes="Đồng ý",
            )
        if index + 1 < len(steps) and steps[index + 1].agency.code != agency:
            life.add(
                at,
                "workflow",
                "DossierHandedOver",
                from_agency=agency,
                to_agency=steps[index + 1].agency.code,
                step_index=index + 1,
                officer=f"officer@{agency}",
            )
    _outcome(life, at, appointment, late_agency, notify_by)


def _supplement(life: Life, at: datetime, agency: str, notify_by: tuple[str, ...]) -> datetime:
    asked = life.add(
        at,
        "workflow",
        "SupplementRequested",
        agency_code=agency,
        officer=f"officer@{agency}",
        reason="Thiếu bản vẽ hiện trạng",
        documents=["ban_ve"],
        requested_on=_day(at),
    )
    _notice(life, at, "supplement_requested", notify_by, asked)
    at += timedelta(days=life.rng.uniform(1, 6))
    life.add(
        at,
        "workflow",
        "SupplementProvided",
        documents=[],
        provided_on=_day(at),
        paused_working_days=3,
        appointment_date=_day(at + timedelta(days=5)),
    )
    return at


def _refund(life: Life, at: datetime, fee: int) -> None:
    if not fee:
        return
    refund = f"R{life.rng.randint(0, 10**8):08d}"
    life.add(
        at,
        "payment",
        "RefundRequested",
        payment_code="PC",
        refund_id=refund,
        transaction_id="VNPAY1",
        amount_vnd=fee,
        reason="Hồ sơ bị từ chối",
    )
    life.add(
        at + timedelta(hours=2),
        "payment",
        "RefundSucceeded",
        payment_code="PC",
        refund_id=refund,
        amount_vnd=fee,
        refund_transaction_id="VNPAYR1",
    )


def _outcome(
    life: Life,
    at: datetime,
    appointment: datetime,
    late_agency: str | None,
    notify_by: tuple[str, ...],
) -> None:
    """Withdrawn now and then; otherwise the result, late or not, its return, a rating."""
    agency = life.procedure.receiving_agency.code
    if life.rng.random() < 0.02:
        life.add(
            at, "intake", "DossierWithdrawn", reason="Không còn nhu cầu", withdrawn_by="citizen-1"
        )
        return
    if at > appointment and late_agency:
        life.add(
            appointment + timedelta(hours=17),
            "workflow",
            "DossierOverdue",
            appointment_date=_day(appointment),
            responsible_agency=late_agency,
            late_agencies=[late_agency],
        )
        apology = life.add(
            appointment + timedelta(hours=18),
            "workflow",
            "ApologyIssued",
            agency_code=agency,
            officer="leader-1",
            reason="Quá tải hồ sơ",
            previous_appointment_date=_day(appointment),
            appointment_date=_day(at + timedelta(days=2)),
        )
        _notice(life, appointment + timedelta(hours=18), "overdue_apology", notify_by, apology)
    on = at.date()
    timeliness = "late" if on > appointment.date() else "on_time"
    if timeliness == "on_time" and on < (appointment - timedelta(days=1)).date():
        timeliness = "early"
    result = life.add(
        at,
        "workflow",
        "ResultIssued",
        agency_code=agency,
        officer="officer-1",
        kind="electronic",
        document=None,
        issued_at=_iso(at),
        appointment_date=_day(appointment),
        timeliness=timeliness,
    )
    _notice(life, at, "result_ready", notify_by, result)
    back = at + timedelta(days=life.rng.uniform(0.1, 3))
    life.add(
        back,
        "workflow",
        "ResultReturned",
        officer="officer-1",
        method="electronic",
        returned_on=_day(back),
    )
    if life.rng.random() < 0.35:  # a third of the applicants rate the service
        life.add(
            back + timedelta(hours=life.rng.uniform(1, 72)),
            "intake",
            "DossierRated",
            rating=life.rng.choices((1, 2, 3, 4, 5), (2, 3, 10, 35, 50))[0],
            comment="",
            rated_by=None,
        )
