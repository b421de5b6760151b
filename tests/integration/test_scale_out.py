"""Two instances of each consuming service in one consumer group on PostgreSQL share the
partitions; one is killed mid-load and started again. Every dossier is processed once:
none skipped, none twice, on the topic (workflow publishes one process per dossier)
and in the figures (stats counts each dossier once)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from devtools.demo.client import APPLICANTS, DemoClient
from motcua.runtime.settings import DEV_JWT_SECRET
from tests.support.processes import Broker, Postgres, ServiceProcess
from tests.support.topics import read_topic

# own_stores: always on PostgreSQL, the store of a scaled-out deployment.
pytestmark = [pytest.mark.integration, pytest.mark.own_stores]

BIRTH = "1.001193"
DOSSIERS = 36


def test_two_instances_share_the_work_across_a_crash_and_a_rebalance(
    start_service: Callable[..., ServiceProcess], postgres: Postgres, broker: Broker, topic: str
) -> None:
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    intake = start_service("intake", database_url=url)
    workflows = [start_service("workflow", database_url=url) for _ in range(2)]
    stats = [start_service("stats", database_url=url) for _ in range(2)]
    client = DemoClient(intake.url, workflows[0].url, DEV_JWT_SECRET)

    dossiers = []
    for n in range(DOSSIERS):
        if n == DOSSIERS // 3:  # crash one of each while the load runs
            workflows[0].kill()
            stats[0].kill()
        if n == 2 * DOSSIERS // 3:  # back: the group rebalances again
            workflows[0].start()
            stats[0].start()
        dossier_id, agency = client.submit(APPLICANTS[n % len(APPLICANTS)], BIRTH)
        client.call("POST", f"/v1/dossiers/{dossier_id}/accept", client.officer(agency))
        dossiers.append(dossier_id)

    records = read_topic(
        broker.bootstrap,
        topic,
        lambda rs: {r.key for r in rs if r.event.get("type") == "StepStarted"} >= set(dossiers),
        timeout=90,
        settle=3.0,
    )
    started = Counter(r.key for r in records if r.event.get("type") == "StepStarted")
    assert set(started) == set(dossiers)  # none skipped
    assert set(started.values()) == {1}  # none twice (each was a new process at most once)

    year = time.gmtime().tm_year
    deadline = time.monotonic() + 60
    while True:
        figures = httpx.get(f"{stats[1].url}/v1/stats/ytd", params={"year": year}).json()
        if figures["totals"]["received"] >= DOSSIERS or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert figures["totals"]["received"] == DOSSIERS  # each counted once, by one instance
    again = httpx.get(f"{stats[0].url}/v1/stats/ytd", params={"year": year}).json()
    assert again["totals"] == figures["totals"]  # both instances serve the same rows
