"""What the chaos suite asserts once the load has run: the services' outcomes, read
through their public interfaces, against the load driver's ground truth.

- every dossier reached its final state (result returned) under the code it was given;
- every land-transfer bill was paid exactly once (one payment in the bill, one
  ``PaymentSucceeded`` event on the topic) and nothing was paid for a free procedure;
- every notice was delivered and none twice: one notice per dossier, kind and channel
  in notify, each e-mail once in the mailbox and each SMS once at the gateway. E-mail is
  at-least-once on the wire (SMTP has no idempotency key): notify killed between the
  server's acceptance and its record of it sends again, under the same Message-ID, and
  mailboxes show one message per Message-ID, as the dev mailbox does. Those re-sends
  are counted and shown;
- the year-to-date figures equal the counts the driver computes from what it did;
- the national portal (its simulator) holds every dossier in the province's latest
  version, each version applied at most once and never an older after a newer.

Each check waits (up to a deadline) for the pipeline to settle, since consumers may
still be catching up after the last crash, then reports what differs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from devtools.load import LAND, Driver, Trace
from motcua.runtime.settings import Settings
from motcua.runtime.topic_reader import Record, TopicMissing, open_topic

RESOLVED = ("resolved_early", "resolved_on_time", "resolved_late")


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class TopicEvent:
    key: str
    type: str
    event_id: str
    size: int


@dataclass
class Verdict:
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def add(self, name: str, problems: Sequence[str], ok: str) -> None:
        shown = "; ".join(problems[:5]) + (
            f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        )
        self.checks.append(Check(name, not problems, shown if problems else ok))


@dataclass
class Endpoints:
    notify: str
    stats: str
    sinks: str
    kafka: Settings  # the cluster's connection options (TLS, SASL)
    topic: str
    portal: str
    portal_sim: str


def settle(probe: Callable[[], list[str]], timeout: float) -> list[str]:
    """Problems left once ``probe`` finds none or the time is up."""
    deadline = time.monotonic() + timeout
    while (problems := probe()) and time.monotonic() < deadline:
        time.sleep(1.0)
    return problems


def verify(driver: Driver, where: Endpoints, timeout: float = 180.0) -> Verdict:
    """Run every check against the settled pipeline."""
    traces = [t for t in driver.traces if t.dossier_id]
    admin = driver.admin()
    verdict = Verdict()
    with httpx.Client(timeout=30) as http:
        verdict.add(
            "final state",
            settle(lambda: final_states(http, driver, traces, admin), timeout),
            f"{len(traces)} dossiers returned their result",
        )
        verdict.add(
            "payments",
            settle(lambda: bills(http, driver, traces, admin), timeout),
            f"{sum(t.procedure_id == LAND for t in traces)} bills paid once each",
        )
        events = asyncio.run(read_events(where.kafka, where.topic))
        verdict.add(
            "payment events",
            payment_events(events, traces),
            "one PaymentSucceeded per paid dossier on the topic",
        )
        delivered: dict[str, int] = {}
        verdict.add(
            "notices",
            settle(lambda: notices(http, where, traces, admin, delivered), timeout),
            f"{delivered.get('n', 0)} notices delivered, none twice in a mailbox or phone"
            f" ({delivered.get('resent', 0)} e-mails sent again after a crash mid-send,"
            " under the same Message-ID)",
        )
        verdict.add(
            "statistics",
            settle(lambda: statistics(http, where, traces), timeout),
            "year-to-date figures equal the driver's counts",
        )
        verdict.add(
            "national portal",
            settle(lambda: national_portal(http, where, traces, admin), timeout),
            f"{len(traces)} dossiers at the portal in their latest version, each version once",
        )
    return verdict


def final_states(
    http: httpx.Client, driver: Driver, traces: Sequence[Trace], admin: dict[str, str]
) -> list[str]:
    problems = []
    for t in traces:
        response = http.get(
            f"{driver.urls.workflow}/v1/dossiers/{t.dossier_id}/timeline", headers=admin
        )
        if response.status_code != 200:
            problems.append(f"{t.code}: timeline answered {response.status_code}")
            continue
        timeline = response.json()
        if timeline["status"] != "returned" or timeline["code"] != t.code:
            problems.append(f"{t.code}: {timeline['status']} under code {timeline['code']}")
    return problems


def bills(
    http: httpx.Client, driver: Driver, traces: Sequence[Trace], admin: dict[str, str]
) -> list[str]:
    problems = []
    for t in traces:
        response = http.get(f"{driver.urls.payment}/v1/payments/{t.dossier_id}", headers=admin)
        if t.procedure_id != LAND:
            if response.status_code == 200 and response.json()["payments"]:
                problems.append(f"{t.code}: a payment recorded for a procedure without fee")
            continue
        if response.status_code != 200:
            problems.append(f"{t.code}: no bill ({response.status_code})")
            continue
        bill = response.json()
        amounts = [p["amount_vnd"] for p in bill["payments"]]
        if bill["status"] != "paid" or len(amounts) != 1 or bill["paid_vnd"] != bill["amount_vnd"]:
            problems.append(f"{t.code}: bill {bill['status']} with payments {amounts}")
    return problems


def payment_events(events: Sequence[TopicEvent], traces: Sequence[Trace]) -> list[str]:
    succeeded = Counter(
        e.key for e in {e.event_id: e for e in events if e.type == "PaymentSucceeded"}.values()
    )
    problems = []
    for t in traces:
        expected = 1 if t.procedure_id == LAND else 0
        if succeeded[t.dossier_id] != expected:
            problems.append(f"{t.code}: {succeeded[t.dossier_id]} PaymentSucceeded events")
    return problems


def notices(
    http: httpx.Client,
    where: Endpoints,
    traces: Sequence[Trace],
    admin: dict[str, str],
    delivered: dict[str, int],
) -> list[str]:
    ours = {t.dossier_id: t.code for t in traces}
    rows = [r for r in all_notices(http, where.notify, admin) if r["dossier_id"] in ours]
    mailbox = _sink(http, where, "mail")
    mail = [m["message_id"].strip("<>").split("@")[0] for m in mailbox]
    sms = [m["key"] for m in _sink(http, where, "sms")]
    delivered["n"] = sum(r["status"] == "delivered" for r in rows)
    delivered["resent"] = sum(m["copies"] - 1 for m in mailbox)
    return judge_notices(ours, rows, {"email": Counter(mail), "sms": Counter(sms)})


def judge_notices(
    ours: dict[str, str], rows: Sequence[dict[str, Any]], arrived: dict[str, Counter[str]]
) -> list[str]:
    """One notice per dossier, kind and channel; each delivered; each message that left
    by e-mail or SMS arrived once (``arrived``: notice ids counted per channel)."""
    problems = []
    kinds = Counter((r["dossier_id"], r["kind"], r["channel"]) for r in rows)
    problems += [f"{ours[d]}: {n} '{k}' notices by {c}" for (d, k, c), n in kinds.items() if n > 1]
    for r in rows:
        code, what = ours[r["dossier_id"]], f"{r['kind']} by {r['channel']}"
        if r["status"] != "delivered":
            problems.append(f"{code}: {what} is {r['status']}")
        elif r["channel"] in arrived and (n := arrived[r["channel"]][r["id"]]) != 1:
            problems.append(f"{code}: {what} arrived {n} times")
    missing = set(ours) - {r["dossier_id"] for r in rows}
    problems += [f"{ours[d]}: no notice at all" for d in sorted(missing)]
    return problems


def all_notices(http: httpx.Client, notify: str, admin: dict[str, str]) -> list[dict[str, Any]]:
    """Every notice notify holds, page by page (operators' ``GET /v1/notices``)."""
    rows: list[dict[str, Any]] = []
    while True:
        page = http.get(
            f"{notify}/v1/notices", headers=admin, params={"limit": 200, "offset": len(rows)}
        )
        page.raise_for_status()
        rows += page.json()
        if len(page.json()) < 200:
            return rows


def _sink(http: httpx.Client, where: Endpoints, kind: str) -> list[dict[str, Any]]:
    response = http.get(f"{where.sinks}/{kind}")
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()
    return items


def statistics(http: httpx.Client, where: Endpoints, traces: Sequence[Trace]) -> list[str]:
    figures = http.get(f"{where.stats}/v1/stats/ytd").json()
    return judge_statistics(figures["procedures"], traces)


def judge_statistics(procedures: Sequence[dict[str, Any]], traces: Sequence[Trace]) -> list[str]:
    """Per procedure: received, resolved and received online, as the driver counted them
    (every dossier it drove was submitted online and ran to its result)."""
    truth: dict[str, Counter[str]] = {}
    for t in traces:
        truth.setdefault(t.procedure_id, Counter()).update(
            received=1, resolved=1, online_received=1
        )
    seen = {p["procedure_id"]: p for p in procedures}
    problems = []
    for procedure_id, expected in sorted(truth.items()):
        row = seen.get(procedure_id, {})
        got = Counter(
            received=row.get("received", 0),
            resolved=sum(row.get(k, 0) for k in RESOLVED),
            online_received=row.get("online_received", 0),
        )
        if got != expected:
            problems.append(f"{procedure_id}: stats {dict(got)}, driver {dict(expected)}")
    return problems


def national_portal(
    http: httpx.Client, where: Endpoints, traces: Sequence[Trace], admin: dict[str, str]
) -> list[str]:
    """Every dossier at the portal as the province last recorded it (returned), and the
    portal's history of each without a repeat or a step back."""
    ours: dict[str, dict[str, Any]] = {}
    while True:
        page = http.get(
            f"{where.portal}/v1/portal/records",
            params={"limit": 200, "offset": len(ours)},
            headers=admin,
        )
        if page.status_code != 200:
            return [f"portal answered {page.status_code}"]
        ours.update({r["code"]: r for r in page.json()})
        if len(page.json()) < 200:
            break
    held = http.get(f"{where.portal_sim}/sim/records").json()
    applied = http.get(f"{where.portal_sim}/sim/calls").json()["applied"]
    problems = []
    for t in traces:
        row, there = ours.get(t.code), held.get(t.code)
        if row is None:
            problems.append(f"{t.code}: no record for the portal")
        elif row["record"]["TrangThaiHoSo"] != "10":
            problems.append(f"{t.code}: the record's status is {row['record']['TrangThaiHoSo']}")
        elif there is None:
            problems.append(f"{t.code}: not at the portal")
        elif there != {**row["record"], "PhienBan": row["version"]}:
            problems.append(
                f"{t.code}: version {there['PhienBan']} at the portal of {row['version']}"
            )
        elif applied[t.code] != sorted(set(applied[t.code])):
            problems.append(f"{t.code}: the portal applied versions {applied[t.code]}")
    return problems


async def read_events(settings: Settings, topic: str, quiet: float = 3.0) -> list[TopicEvent]:
    """Every record of ``topic`` from the start, until nothing new comes for ``quiet`` s."""
    events: list[TopicEvent] = []
    try:
        async with open_topic(settings, topic) as reader:
            last = time.monotonic()
            while time.monotonic() - last < quiet:
                records = await reader.read_to_end(max_records=5000)
                events += [_topic_event(r) for r in records]
                if records:
                    last = time.monotonic()
                else:
                    await asyncio.sleep(0.5)
    except TopicMissing:
        pass  # nothing published yet: no events
    return events


def _topic_event(record: Record) -> TopicEvent:
    body = json.loads(record.value or b"{}")
    return TopicEvent(
        (record.key or b"").decode(),
        body.get("type", "?"),
        body.get("event_id", ""),
        len(record.value or b""),
    )
