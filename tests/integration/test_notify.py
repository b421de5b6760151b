"""Notify delivers each notice once: a real SMTP server, the SMS simulator, the inbox."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller

from contracts.events import encode
from contracts.payment import FeeAssessed, FeeItem
from devtools.demo.client import APPLICANTS, DemoClient
from motcua.runtime.kafka import ensure_topics
from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from tests.support.processes import ROOT, Broker, ServiceProcess, free_port, wait_for_port
from tests.support.topics import read_topic

pytestmark = pytest.mark.integration

BIRTH = "1.001193"


@dataclass
class Smtp:
    """A real SMTP server in the test; it can be stopped and started on the same port."""

    port: int
    received: list[dict[str, Any]] = field(default_factory=list)
    controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(
            {
                "to": envelope.rcpt_tos[0],
                "subject": str(message["Subject"]),
                "message_id": str(message["Message-ID"]),
            }
        )
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None


@dataclass
class Env:
    client: DemoClient
    notify: ServiceProcess
    smtp: Smtp
    sms_url: str
    broker: Broker
    topic: str

    def sms(self) -> list[dict[str, Any]]:
        return httpx.get(self.sms_url, timeout=5).json()  # type: ignore[no-any-return]

    def inbox(self, applicant: int = 0) -> list[dict[str, Any]]:
        headers = self.client.citizen(APPLICANTS[applicant])
        return httpx.get(f"{self.notify.url}/v1/inbox", headers=headers, timeout=5).json()  # type: ignore[no-any-return]

    def received(self, applicant: int = 0) -> str:
        dossier_id, agency = self.client.submit(APPLICANTS[applicant], BIRTH)
        self.client.call("POST", f"/v1/dossiers/{dossier_id}/accept", self.client.officer(agency))
        return dossier_id


def eventually(check: Callable[[], bool], timeout: float = 30.0, settle: float = 2.0) -> None:
    """Wait until ``check`` holds, then a little longer so that duplicates would show."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            time.sleep(settle)
            return
        time.sleep(0.1)
    raise TimeoutError("condition not met")


@pytest.fixture
def env(
    start_service: Callable[..., ServiceProcess], broker: Broker, topic: str, tmp_path: Path
) -> Iterator[Env]:
    smtp = Smtp(free_port())
    smtp.start()
    sinks_port = free_port()
    sinks = subprocess.Popen(
        [sys.executable, "-m", "devtools.sinks"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "MOTCUA_VAR_DIR": str(tmp_path / "sinks"),
            "MOTCUA_SINKS_PORT": str(sinks_port),
            "MOTCUA_SMTP_PORT": str(free_port()),
            "PYTHONPATH": str(ROOT),
        },
        stdout=(tmp_path / "sinks.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_for_port(sinks_port)
    intake = start_service("intake")
    notify = start_service(
        "notify",
        MOTCUA_SMTP_PORT=str(smtp.port),
        MOTCUA_SMS_URL=f"http://127.0.0.1:{sinks_port}/sms",
        MOTCUA_NOTIFY_RETRY_BASE_SECONDS="0.2",
        MOTCUA_NOTIFY_POLL_SECONDS="0.1",
        MOTCUA_NOTIFY_SEND_LEASE_SECONDS="2",  # a send cut by a kill is retried after it
    )
    client = DemoClient(intake.url, "http://127.0.0.1:9", DEV_JWT_SECRET)
    yield Env(client, notify, smtp, f"http://127.0.0.1:{sinks_port}/sms", broker, topic)
    smtp.stop()
    sinks.terminate()
    sinks.wait(10)


def test_received_dossier_yields_one_email_one_sms_one_inbox_item(env: Env) -> None:
    dossier_id = env.received()
    code = env.client.call("GET", f"/v1/dossiers/{dossier_id}", env.client.citizen(APPLICANTS[0]))[
        "code"
    ]

    eventually(
        lambda: len(env.smtp.received) >= 1 and len(env.sms()) >= 1 and len(env.inbox()) >= 1
    )

    assert [m["to"] for m in env.smtp.received] == [f"{APPLICANTS[0].sub}@example.vn"]
    assert env.smtp.received[0]["subject"].startswith(f"Tiếp nhận hồ sơ {code}")
    assert [m["to"] for m in env.sms()] == [APPLICANTS[0].phone]
    inbox = env.inbox()
    assert len(inbox) == 1
    assert inbox[0]["kind"] == "received"
    assert inbox[0]["read_at"] is None


def test_smtp_down_for_a_while_delays_the_email_but_delivers_it_once(env: Env) -> None:
    env.smtp.stop()
    env.received()
    eventually(lambda: len(env.sms()) >= 1, settle=3.0)  # several e-mail attempts fail meanwhile

    env.smtp.start()

    eventually(lambda: len(env.smtp.received) >= 1)
    assert len(env.smtp.received) == 1
    admin = {"Authorization": env.client.admin()["Authorization"]}
    failed = httpx.get(
        f"{env.notify.url}/v1/notices", params={"status": "failed"}, headers=admin, timeout=5
    ).json()
    assert failed == []


@pytest.mark.store_semantics
def test_notify_killed_mid_send_and_restarted_neither_loses_nor_doubles(env: Env) -> None:
    for applicant in range(3):
        env.received(applicant)
    time.sleep(0.3)
    env.notify.kill()

    env.notify.start()

    eventually(lambda: len(env.smtp.received) >= 3 and len(env.sms()) >= 3)
    assert Counter(m["to"] for m in env.smtp.received) == Counter(
        f"{a.sub}@example.vn" for a in APPLICANTS
    )
    assert Counter(m["to"] for m in env.sms()) == Counter(a.phone for a in APPLICANTS)
    assert [len(env.inbox(i)) for i in range(3)] == [1, 1, 1]


def test_malformed_event_goes_to_dlq_and_notices_keep_flowing(env: Env) -> None:
    asyncio.run(_produce(env.broker, env.topic, b"{definitely not an event"))

    env.received()

    eventually(lambda: len(env.inbox()) >= 1)
    dead = read_topic(env.broker.bootstrap, "notify.dlq", lambda rs: len(rs) >= 1)
    assert dead[-1].headers["dlq-reason"].startswith("undecodable")
    assert dead[-1].headers["dlq-source"].startswith(env.topic)


async def _produce(broker: Broker, topic: str, payload: bytes, key: bytes = b"garbage") -> None:
    await ensure_topics(Settings(kafka_bootstrap_servers=broker.bootstrap), [topic])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    await producer.send_and_wait(
        topic, payload, key=key, headers=[("producer", b"payment"), ("position", b"1")]
    )
    await producer.stop()


def test_notice_failing_every_attempt_is_marked_failed_and_can_be_resent(
    start_service: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    smtp = Smtp(free_port())  # not started: the server is down
    intake = start_service("intake")
    notify = start_service(
        "notify",
        MOTCUA_SMTP_PORT=str(smtp.port),
        MOTCUA_SMS_URL="http://127.0.0.1:9/none",
        MOTCUA_NOTIFY_RETRY_BASE_SECONDS="0.1",
        MOTCUA_NOTIFY_POLL_SECONDS="0.1",
        MOTCUA_NOTIFY_MAX_ATTEMPTS="2",
    )
    client = DemoClient(intake.url, "http://127.0.0.1:9", DEV_JWT_SECRET)
    dossier_id, agency = client.submit(APPLICANTS[0], BIRTH)
    client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))
    admin = client.admin()

    def failed_email() -> list[dict[str, Any]]:
        rows = httpx.get(
            f"{notify.url}/v1/notices", params={"status": "failed"}, headers=admin, timeout=5
        ).json()
        return [r for r in rows if r["channel"] == "email"]

    eventually(lambda: len(failed_email()) == 1, settle=0.5)
    notice = failed_email()[0]
    smtp.start()
    try:
        resent = httpx.post(
            f"{notify.url}/v1/notices/{notice['id']}/resend", headers=admin, timeout=5
        )
        eventually(lambda: len(smtp.received) >= 1)
    finally:
        smtp.stop()

    assert notice["attempts"] == 2
    assert "Connection refused" in notice["error"]
    assert resent.status_code == 204
    assert len(smtp.received) == 1
    assert failed_email() == []


def test_fee_assessed_sends_the_payment_link(env: Env) -> None:
    dossier_id = env.received()
    eventually(lambda: len(env.sms()) >= 1, settle=0.0)
    fee = FeeAssessed(
        event_id=uuid.uuid4(),
        dossier_id=uuid.UUID(dossier_id),
        occurred_at=datetime.now(UTC),
        producer="payment",
        correlation_id="t",
        payment_code="IUV-0001",
        amount_vnd=8_000,
        items=(FeeItem(name="Lệ phí cấp bản sao trích lục", amount_vnd=8_000),),
        payment_url="http://127.0.0.1:8003/pay/IUV-0001",
    )

    asyncio.run(_produce(env.broker, env.topic, encode(fee), key=dossier_id.encode()))

    eventually(lambda: len(env.sms()) >= 2)
    assert "http://127.0.0.1:8003/pay/IUV-0001" in env.sms()[-1]["text"]
    assert sorted(item["kind"] for item in env.inbox()) == ["fee_due", "received"]


def test_public_lookup_shows_that_the_notices_went_out(env: Env) -> None:
    dossier_id = env.received()
    view = env.client.call("GET", f"/v1/dossiers/{dossier_id}", env.client.citizen(APPLICANTS[0]))

    def delivered_channels() -> set[str]:
        timeline = env.client.call(
            "GET", f"/v1/dossiers/{view['code']}", {"X-Id-Number": APPLICANTS[0].id_number}
        )["timeline"]
        return {e["details"]["channel"] for e in timeline if e["event"] == "NoticeDelivered"}

    eventually(lambda: delivered_channels() == {"inbox", "email", "sms"}, timeout=45, settle=0.0)
