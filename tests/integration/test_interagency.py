"""A ministry system follows the inter-agency topic, stops, and resumes with nothing missed.

Intake, workflow and interagency run as real processes on the session's broker; the
ministry is a plain aiokafka consumer with a group of its own and manual commits, as
docs/ministry-subscription.md tells a ministry to write it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from contracts.interagency import interagency_event_id
from devtools.demo.client import APPLICANTS, Applicant, DemoClient
from motcua.runtime.settings import DEV_JWT_SECRET
from tests.support.processes import Broker, ServiceProcess
from tests.support.topics import Record, read_topic, to_record

pytestmark = pytest.mark.integration

CRIMINAL_RECORD, LAND, MARITAL = "2.000488", "1.004227", "1.004873"  # bca, btnmt, neither
JUSTICE, POLICE = "000.00.20.H23", "000.00.30.H23"
MONDAY = "2026-03-02T09:00:00+07:00"


@dataclass
class Province:
    client: DemoClient
    interagency: ServiceProcess
    broker: Broker
    topic: str
    feed: str

    def received(self, procedure_id: str, applicant: Applicant, channel: str = "online") -> str:
        dossier_id, agency = self.client.submit(applicant, procedure_id, channel)
        self.client.call("POST", f"/v1/dossiers/{dossier_id}/accept", self.client.officer(agency))
        deadline = time.monotonic() + 30
        while (
            self.client.flow.get(
                f"/v1/dossiers/{dossier_id}/timeline", headers=self.client.admin()
            ).status_code
            != 200
        ):
            assert time.monotonic() < deadline, "workflow did not start the process"
            time.sleep(0.1)
        return dossier_id

    def act(self, agency: str, dossier_id: str, action: str) -> None:
        self.client.act(
            "POST", f"/v1/dossiers/{dossier_id}/{action}", self.client.officer(agency), json={}
        )

    def expected(self, dossiers: set[str], count: int) -> set[uuid.UUID]:
        """Curated ids of the dossiers' events after submission, from dossier-events."""

        def after_submission(rs: list[Record]) -> list[Record]:
            return [r for r in rs if r.key in dossiers and r.event["type"] != "DossierSubmitted"]

        records = read_all(
            self.broker.bootstrap,
            self.topic,
            lambda rs: len({r.event["event_id"] for r in after_submission(rs)}) >= count,
        )
        sources = {r.event["event_id"] for r in after_submission(records)}
        assert len(sources) == count, sorted(r.event["type"] for r in after_submission(records))
        return {interagency_event_id(uuid.UUID(s)) for s in sources}

    def on_topic(self, topic: str, ids: set[uuid.UUID]) -> list[Record]:
        """Every record of ``topic`` once ``ids`` are all there (and a quiet second more)."""
        return read_all(
            self.broker.bootstrap,
            topic,
            lambda rs: ids <= {uuid.UUID(r.event["event_id"]) for r in rs},
            settle=1.0,
        )


@pytest.fixture
def province(
    start_service: Callable[..., ServiceProcess], broker: Broker, topic: str, clock_file: Path
) -> Province:
    clock_file.write_text(MONDAY)
    intake = start_service("intake")
    workflow = start_service("workflow")
    feed = f"{topic}-interagency"
    interagency = start_service("interagency", MOTCUA_INTERAGENCY_TOPIC=feed)
    client = DemoClient(intake.url, workflow.url, DEV_JWT_SECRET)
    return Province(client, interagency, broker, topic, feed)


@dataclass(frozen=True)
class Read:
    """What the ministry's subscriber got in one session: every message, in order."""

    records: list[Record]

    @property
    def ids(self) -> list[uuid.UUID]:
        return [uuid.UUID(r.event["event_id"]) for r in self.records]


def subscribe(
    bootstrap: str, topic: str, group: str, done: Callable[[set[uuid.UUID]], bool]
) -> Read:
    """A ministry's consumer: its own group, commits after handling each batch, stops
    once ``done`` holds for the ids it has read (and one quiet second more)."""
    return asyncio.run(_subscribe(bootstrap, topic, group, done))


async def _subscribe(
    bootstrap: str, topic: str, group: str, done: Callable[[set[uuid.UUID]], bool]
) -> Read:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    records: list[Record] = []
    loop = asyncio.get_running_loop()
    deadline, quiet_since = loop.time() + 30, None
    try:
        while loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for tp, batch in batches.items():
                records += [to_record(m) for m in batch]
                await consumer.commit({tp: batch[-1].offset + 1})
            if done({uuid.UUID(r.event["event_id"]) for r in records}):
                quiet_since = quiet_since or loop.time()
                if loop.time() - quiet_since >= 1.0:
                    return Read(records)
    finally:
        await consumer.stop()
    raise TimeoutError(f"the ministry read {len(records)} events of {topic}; not done")


def read_all(
    bootstrap: str, topic: str, until: Callable[[list[Record]], bool], settle: float = 0.3
) -> list[Record]:
    """The test's own view of a topic: every partition from the start, without a consumer
    group (no group join to wait for), until ``until`` holds and ``settle`` s more."""
    return read_topic(bootstrap, topic, until, timeout=30, settle=settle)


@pytest.mark.store_semantics
def test_a_ministry_resumes_from_its_own_position_with_nothing_missed_or_repeated(
    province: Province,
) -> None:
    p, ministry_group = province, f"bca-{uuid.uuid4().hex[:8]}"
    bca, btnmt = f"{p.feed}.bca", f"{p.feed}.btnmt"
    first = p.received(CRIMINAL_RECORD, APPLICANTS[0])
    p.act(JUSTICE, first, "complete-step")  # the next step is at the same agency
    land = p.received(LAND, APPLICANTS[2])
    local = p.received(MARITAL, APPLICANTS[1], "counter")  # one agency, no ministry
    before = p.expected({first}, 4)  # received, step 0 started and completed, step 1 started

    read_before = subscribe(p.broker.bootstrap, bca, ministry_group, lambda ids: before <= ids)

    p.act(JUSTICE, first, "complete-step")
    p.act(JUSTICE, first, "hand-over")  # to the provincial police
    p.on_topic(bca, p.expected({first}, 7))
    p.interagency.kill()  # kill -9; the ministry is away too
    second = p.received(CRIMINAL_RECORD, APPLICANTS[1])
    p.act(POLICE, first, "complete-step")
    p.interagency.start()
    p.act(POLICE, first, "hand-over")  # back to the department of justice
    p.act(JUSTICE, second, "complete-step")
    everything = p.expected({first, second}, 10 + 4)
    read_after = subscribe(
        p.broker.bootstrap, bca, ministry_group, lambda ids: everything - before <= ids
    )

    assert set(read_before.ids) == before
    assert set(read_after.ids) == everything - before  # none missed
    assert len(read_after.ids) == len(set(read_after.ids))  # none twice
    assert p.interagency.starts == 2
    ministry = read_before.records + read_after.records
    assert {r.key for r in ministry} == {first, second}
    types = [r.event["type"] for r in ministry if r.key == first]
    assert types[:4] == [
        "InteragencyDossierReceived",
        "InteragencyStepStarted",
        "InteragencyStepCompleted",
        "InteragencyStepStarted",
    ]
    assert "InteragencyDossierHandedOver" in types
    bca_received = [r for r in ministry if r.event["type"] == "InteragencyDossierReceived"]
    assert {r.key: r.event["applicant"] for r in bca_received} == {
        first: {
            "full_name": None,
            "id_number": APPLICANTS[0].id_number,
            "phone": None,
            "email": None,
        },
        second: {
            "full_name": None,
            "id_number": APPLICANTS[1].id_number,
            "phone": None,
            "email": None,
        },
    }
    assert all(
        r.headers["producer"] == "interagency.bca" and r.headers["type"] == r.event["type"]
        for r in read_after.records
    )

    default = p.on_topic(p.feed, everything | p.expected({land}, 2))
    assert {r.key for r in default} == {first, second, land}
    assert local not in {r.key for r in default}
    personal = [v for a in APPLICANTS for v in (a.id_number, a.name, a.phone)]
    leaked = [v for r in default for v in personal if v in json.dumps(r.event, ensure_ascii=False)]
    assert leaked == []
    assert all(r.event["applicant"] is None for r in default if "applicant" in r.event)
    land_feed = p.on_topic(btnmt, p.expected({land}, 2))
    assert {r.key for r in land_feed} == {land}
    assert all(r.event.get("applicant") is None for r in land_feed)
