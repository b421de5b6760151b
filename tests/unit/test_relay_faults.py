"""The relay's fault injection: a ``Faults`` object given to it, none in production.

The crash tests (``tests/integration/test_crash_and_redelivery.py``) kill a service
process in the relay's duplicate-publish window: after the broker acknowledged a batch,
before its position is recorded. Here the same seam runs in-process, with an exit that
raises instead of ending the test's process.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from motcua.runtime import relay as relay_module
from motcua.runtime.faults import EXIT_CODE, ExitAfterPublish, faults_of
from motcua.runtime.relay import OutboxRelay
from motcua.runtime.settings import Settings
from ops.serve import inject_faults
from services.intake.application import IntakeApplication
from services.intake.main import create_app
from services.intake.to_contract import IntakePublisher
from tests.support.dossiers import submit_birth


class Crashed(Exception):
    """The process would have ended here."""


class Producer:
    """An acknowledging stand-in for aiokafka's producer that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, topic: str, payload: bytes, **_: Any) -> asyncio.Future[None]:
        self.sent.append(payload)
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


class Recording:
    """Faults that note when they are reached and what had been sent by then."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self.calls: list[tuple[str, int]] = []

    def after_publish(self, relay: str) -> None:
        self.calls.append((relay, len(self.producer.sent)))


@pytest.fixture
def intake(tmp_path: Path) -> IntakeApplication:
    settings = Settings(var_dir=tmp_path / "var", kafka_bootstrap_servers="127.0.0.1:1")
    app = create_app(settings)
    submit_birth(TestClient(app))  # no lifespan: nothing published yet
    intake: IntakeApplication = app.state.intake
    return intake


def relay_of(intake: IntakeApplication, producer: Producer, **options: Any) -> OutboxRelay:
    return OutboxRelay(
        intake,
        intake.store,
        producer,
        name="intake",
        topic="dossier-events",
        to_contract=IntakePublisher(intake),
        **options,
    )


def test_the_relay_module_has_no_hard_exit() -> None:
    assert "_exit" not in inspect.getsource(relay_module)


def test_without_faults_a_batch_is_published_and_its_position_recorded(
    intake: IntakeApplication,
) -> None:
    relay = relay_of(intake, Producer())
    assert relay.faults is None  # the default, as in production

    published = asyncio.run(relay.publish_once())

    assert published >= 1
    assert relay.position() == published


def test_faults_are_reached_after_the_acks_and_before_the_position(
    intake: IntakeApplication,
) -> None:
    producer = Producer()
    faults = Recording(producer)
    relay = relay_of(intake, producer, faults=faults)

    published = asyncio.run(relay.publish_once())

    assert faults.calls == [("intake", published)]  # the whole batch was sent first
    assert relay.position() == published


def test_an_exit_after_publish_leaves_the_batch_to_be_published_again(
    intake: IntakeApplication,
) -> None:
    codes: list[int] = []

    def exit_now(code: int) -> None:
        codes.append(code)
        raise Crashed

    first = Producer()
    crashing = relay_of(intake, first, faults=ExitAfterPublish(exit_now))
    with pytest.raises(Crashed):
        asyncio.run(crashing.publish_once())
    assert codes == [EXIT_CODE] == [17]
    assert crashing.position() == 0  # acknowledged, never recorded

    again = Producer()
    restarted = relay_of(intake, again)
    restarted.owner = crashing.owner  # in the dead one's place: its lease has not run out
    published = asyncio.run(restarted.publish_once())
    assert again.sent == first.sent  # the same records, published a second time
    assert restarted.position() == published


def test_faults_come_from_the_settings_only_when_a_test_asks() -> None:
    assert faults_of(Settings()) is None
    assert isinstance(faults_of(Settings(fault_relay_exit_after_publish=True)), ExitAfterPublish)


def test_serve_gives_the_faults_to_every_relay_worker_and_none_by_default(
    tmp_path: Path,
) -> None:
    settings = Settings(var_dir=tmp_path / "var", kafka_bootstrap_servers="127.0.0.1:1")
    app = create_app(settings)
    relay = app.state.relay
    inject_faults(app, faults_of(settings))
    assert relay.faults is None

    faults = ExitAfterPublish()
    inject_faults(app, faults)
    assert relay.faults is faults
