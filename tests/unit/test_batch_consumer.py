"""A fetched batch is one unit of work: one transaction, handlers that see each other,
records of types nobody handles skipped undecoded, a failing record isolated.

The consumer's records are handed to it here as aiokafka would; the integration tests
(crash and redelivery, poison messages, scale-out) run the same consumer on the broker.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from unittest.mock import MagicMock

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from eventsourcing.application import Application
from eventsourcing.persistence import OperationalError, StoredEvent

from contracts.envelope import Envelope
from contracts.intake import DossierReceived, DossierWithdrawn
from motcua.runtime.consumer import TrackedConsumer, _ResumeFromStore
from motcua.runtime.handlers import Handlers
from motcua.runtime.store import OutsideUnitOfWork, Store, Tx, store_env
from motcua.runtime.unit_of_work import UnitOfWork
from services.catalogue.procedures import load_catalogue
from services.payment.application import PaymentApplication
from services.payment.domain import Bill, Counter
from services.payment.settings import PaymentSettings
from tests.support.ledger import Ledger, contract_record, offline_consumer
from tests.support.samples import LAND, LAND_FORM, received
from tests.unit.test_payment import Clock, StandInGateway, make_app, withdrawal_of


@pytest.fixture
def payment(tmp_path: Path) -> Iterator[PaymentApplication]:
    app = make_app(tmp_path, StandInGateway(), Clock())
    yield app
    app.close()


def consumer_of(app: Any, store: Store, handlers: Handlers, dlq: Any = None) -> TrackedConsumer:
    return offline_consumer(app, store, handlers, "dossier-events", dlq or MagicMock(), "c")


class Commits:
    """Counts the store transactions a consumer opens."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        unit = store.record_unit

        def counted(work: Any) -> None:
            self.count += 1
            unit(work)

        monkeypatch.setattr(store, "record_unit", counted)


def test_a_handler_sees_what_an_earlier_message_of_its_batch_did(
    payment: PaymentApplication,
) -> None:
    event = received(LAND, LAND_FORM)
    consumer = consumer_of(payment, payment.store, payment.handlers())

    consumer.apply_in_store([contract_record(event, 1), contract_record(withdrawal_of(event), 2)])

    bill: Bill = payment.repository.get(event.dossier_id)
    assert bill.closed_reason == "withdrawn"  # the withdrawal found the bill of the batch
    assert payment.store.read_one("SELECT status FROM {payment_bills}") == {"status": "closed"}


def test_a_batch_is_one_transaction_whatever_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(tmp_path)
    commits = Commits(ledger.store, monkeypatch)
    events = [received(LAND, LAND_FORM) for _ in range(50)]
    consumer = consumer_of(ledger.app, ledger.store, ledger.handlers())

    asyncio.run(consumer.apply_batch([contract_record(e, n) for n, e in enumerate(events)]))

    assert commits.count == 1
    assert len(ledger.rows()) == 50
    assert consumer.applied == 50


def test_records_of_types_not_handled_are_tracked_without_being_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(tmp_path)
    handlers = Handlers({DossierReceived: ledger.record})
    event = received(LAND, LAND_FORM)
    unhandled = contract_record(event, 1)
    unhandled.headers = [*unhandled.headers[:2], ("type", b"NoticeDelivered")]
    unhandled.value = b"not even JSON: never looked at"
    decoded: list[bytes] = []

    def spy(payload: bytes) -> None:
        decoded.append(payload)

    monkeypatch.setattr("motcua.runtime.consumer.decode", spy)
    dlq = MagicMock()
    consumer = consumer_of(ledger.app, ledger.store, handlers, dlq)

    asyncio.run(consumer.apply_batch([unhandled]))

    assert decoded == []
    assert ledger.rows() == []
    assert not dlq.send_and_wait.called
    row = ledger.store.read_one("SELECT next_offset FROM {consumer_offsets}")
    assert row == {"next_offset": 2}


def test_a_record_applied_before_is_skipped_even_inside_one_batch(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    event = received(LAND, LAND_FORM)
    consumer = consumer_of(ledger.app, ledger.store, ledger.handlers())
    first = contract_record(event, 10, position=3)
    repeat = contract_record(event, 11, position=3)  # the relay published it again

    outcome = consumer.apply_in_store([first, repeat])
    again = consumer.apply_in_store([repeat])

    assert (outcome.applied, outcome.skipped, again.applied, again.skipped) == (1, 1, 0, 1)
    assert len(ledger.rows()) == 1


def test_a_failing_record_rolls_its_batch_back_and_alone_goes_to_the_dlq(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("motcua.runtime.consumer.asyncio.sleep", _no_wait)
    ledger = Ledger(tmp_path)
    bad = received(LAND, LAND_FORM)

    def record_or_fail(event: Envelope, uow: UnitOfWork) -> None:
        ledger.record(event, uow)
        if event.event_id == bad.event_id:
            raise RuntimeError("a handler bug")

    dlq = MagicMock()
    sent: list[tuple[str, bytes]] = []

    async def send_and_wait(topic: str, value: bytes, **kwargs: Any) -> None:
        sent.append((topic, dict(kwargs["headers"])["dlq-reason"]))

    dlq.send_and_wait = send_and_wait
    handlers = Handlers({DossierReceived: record_or_fail})
    consumer = consumer_of(ledger.app, ledger.store, handlers, dlq)
    good = [received(LAND, LAND_FORM) for _ in range(3)]
    batch = [contract_record(e, n) for n, e in enumerate([good[0], bad, *good[1:]])]

    asyncio.run(consumer.apply_batch(batch))

    assert sorted(str(r["event_id"]) for r in ledger.rows()) == sorted(
        str(e.event_id) for e in good
    )
    assert sent == [("c.dlq", b"handler failed: RuntimeError('a handler bug')")]
    row = ledger.store.read_one("SELECT next_offset FROM {consumer_offsets}")
    assert row == {"next_offset": 4}
    assert (consumer.applied, consumer.dead_lettered) == (3, 1)


def test_a_store_outage_dead_letters_nothing_the_batch_is_left_to_be_rewound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database away (or locked past its timeout) is no fault of the records: the
    batch fails whole, for the subscriber to rewind and apply later, and no good record
    goes to the dead letters."""
    monkeypatch.setattr("motcua.runtime.consumer.asyncio.sleep", _no_wait)
    ledger = Ledger(tmp_path)

    def store_away(event: Envelope, uow: UnitOfWork) -> None:
        raise OperationalError("could not connect to server: Connection refused")

    dlq = MagicMock()
    consumer = consumer_of(ledger.app, ledger.store, Handlers({DossierReceived: store_away}), dlq)
    batch = [contract_record(received(LAND, LAND_FORM), n) for n in range(3)]

    with pytest.raises(OperationalError):
        asyncio.run(consumer.apply_batch(batch))

    assert not dlq.send_and_wait.called
    assert consumer.dead_lettered == 0
    assert ledger.store.read_one("SELECT next_offset FROM {consumer_offsets}") is None


async def _no_wait(_: float) -> None:
    return None


def test_saving_past_the_unit_of_work_fails_loudly(tmp_path: Path) -> None:
    app: Application[uuid.UUID] = Application(store_env(None, str(tmp_path), "t"))
    store = Store(app.recorder)  # type: ignore[arg-type]
    event = received(LAND, LAND_FORM)

    def forgets_the_unit_of_work(event: Envelope, uow: UnitOfWork) -> None:
        bill = Bill(
            dossier_id=event.dossier_id,
            dossier_code="x",
            procedure_id=LAND,
            procedure_name="x",
            level=4,
            agencies=["a"],
            payer={},
            payment_code=None,
            items=[],
            amount_vnd=0,
            waived_reason="free",
            correlation_id="t",
        )
        app.save(bill)  # its events would commit without the consumer's positions

    def writes_past_it(event: Envelope, uow: UnitOfWork) -> None:
        store.write(lambda tx: None)

    for handler in (forgets_the_unit_of_work, writes_past_it):
        consumer = consumer_of(app, store, Handlers({DossierReceived: handler}))
        with pytest.raises(OutsideUnitOfWork, match="save through the unit of work"):
            consumer.apply_in_store([contract_record(event, 1)])
    assert store.read("SELECT * FROM {consumer_offsets}") == []
    assert app.recorder.max_notification_id() is None


def test_rows_written_earlier_in_the_batch_are_read_back_in_it(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    counts: list[int] = []

    def count_then_record(event: Envelope, uow: UnitOfWork) -> None:
        row = uow.read_one("SELECT COUNT(*) AS n FROM {ledger}")
        counts.append(int(row["n"]) if row else -1)
        ledger.record(event, uow)

    consumer = consumer_of(ledger.app, ledger.store, Handlers({DossierReceived: count_then_record}))
    events = [received(LAND, LAND_FORM) for _ in range(3)]

    consumer.apply_in_store([contract_record(e, n) for n, e in enumerate(events)])

    assert counts == [0, 1, 2]


def test_two_handlers_for_one_type_are_refused() -> None:
    def one(event: Envelope, uow: UnitOfWork) -> None: ...

    with pytest.raises(ValueError, match="two handlers for DossierReceived"):
        Handlers({DossierReceived: one, (DossierReceived, DossierWithdrawn): one})


class SeekRecorder:
    """Stands in for aiokafka's consumer: records the seeks the listener asks for."""

    def __init__(self) -> None:
        self.seeks: list[tuple[str, int, int]] = []
        self.to_beginning: list[set[int]] = []

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp.topic, tp.partition, offset))

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.to_beginning.append({tp.partition for tp in partitions})


def test_an_assignment_resumes_from_the_store_even_after_it_failed_to_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(tmp_path)
    consumer = consumer_of(ledger.app, ledger.store, ledger.handlers())
    consumer.apply_in_store([contract_record(received(LAND, LAND_FORM), 41, partition=0)])
    recorder = SeekRecorder()
    consumer.consumer = cast(AIOKafkaConsumer, recorder)
    answers = iter([RuntimeError("store away"), None])
    stored = consumer.stored_offsets

    def flaky(partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
        if error := next(answers):
            raise error
        return stored(partitions)

    monkeypatch.setattr(consumer, "stored_offsets", flaky)
    monkeypatch.setattr("motcua.runtime.consumer.asyncio.sleep", _no_wait)
    assigned = {TopicPartition("dossier-events", p) for p in (0, 1, 2)}

    asyncio.run(_ResumeFromStore(consumer).on_partitions_assigned(assigned))

    assert recorder.seeks == [("dossier-events", 0, 42)]
    assert recorder.to_beginning == [{1, 2}]  # in one call


def test_the_unit_of_work_loads_an_aggregate_from_its_snapshot_and_later_events(
    database_url: str | None, tmp_path: Path
) -> None:
    app = PaymentApplication(
        store_env(database_url, str(tmp_path), "payment"),
        catalogue=load_catalogue(),
        gateway=StandInGateway(),
        settings=PaymentSettings(),
        clock=Clock(),
    )
    counter = Counter("code:260302")
    for _ in range(130):  # a snapshot at 100 (payment's interval), 30 events after it
        counter.issue()
        app.save(counter)
    assert app.snapshots is not None
    assert list(app.snapshots.get(counter.id))
    loaded: list[Counter | None] = []

    def work(tx: Tx) -> list[StoredEvent]:
        loaded.append(UnitOfWork(app, tx).get(counter.id, Counter))
        return []

    app.store.record_unit(work)

    assert loaded[0] is not None
    assert (loaded[0].last, loaded[0].version) == (130, counter.version)
    app.close()


def test_a_failed_batch_is_fetched_again_from_each_partitions_first_unapplied_offset(
    tmp_path: Path,
) -> None:
    ledger = Ledger(tmp_path)
    consumer = consumer_of(ledger.app, ledger.store, ledger.handlers())
    consumer.apply_in_store([contract_record(received(LAND, LAND_FORM), 41, partition=0)])
    batch = (
        *(contract_record(received(LAND, LAND_FORM), n, partition=0) for n in (40, 41, 42)),
        *(contract_record(received(LAND, LAND_FORM), n, partition=1) for n in (6, 5)),
    )

    offsets = asyncio.run(consumer.first_unapplied(batch))

    # partition 0: the store's next offset (41 was applied); 1: the batch's first
    assert offsets == {
        TopicPartition("dossier-events", 0): 42,
        TopicPartition("dossier-events", 1): 5,
    }
