"""The chaos suite's verdicts: each check finds the fault it exists for."""

from __future__ import annotations

from collections import Counter
from typing import Any

from devtools.demo.client import APPLICANTS
from devtools.load import BIRTH, LAND, Trace
from devtools.load_checks import TopicEvent, judge_notices, judge_statistics, payment_events

OURS = {"d1": "CODE-1", "d2": "CODE-2"}


def notice(dossier: str, kind: str, channel: str, status: str = "delivered") -> dict[str, Any]:
    return {"id": f"{dossier}-{kind}-{channel}", "dossier_id": dossier, "kind": kind,
            "channel": channel, "status": status}  # fmt: skip


def clean() -> tuple[list[dict[str, Any]], dict[str, Counter[str]]]:
    rows = [notice(d, "received", c) for d in OURS for c in ("email", "sms", "inbox")]
    arrived = {c: Counter(r["id"] for r in rows if r["channel"] == c) for c in ("email", "sms")}
    return rows, arrived


def test_notices_delivered_once_each_pass() -> None:
    assert judge_notices(OURS, *clean()) == []


def test_a_notice_planned_twice_is_found() -> None:
    rows, arrived = clean()
    twin = {**rows[0], "id": "another-id"}
    arrived["email"][twin["id"]] += 1
    assert judge_notices(OURS, [*rows, twin], arrived) == ["CODE-1: 2 'received' notices by email"]


def test_an_email_that_arrived_twice_is_found() -> None:
    rows, arrived = clean()
    arrived["email"]["d2-received-email"] += 1
    assert judge_notices(OURS, rows, arrived) == ["CODE-2: received by email arrived 2 times"]


def test_a_notice_not_delivered_or_lost_on_the_way_is_found() -> None:
    rows, arrived = clean()
    rows[1]["status"] = "retrying"
    del arrived["email"]["d2-received-email"]
    assert judge_notices(OURS, rows, arrived) == [
        "CODE-1: received by sms is retrying",
        "CODE-2: received by email arrived 0 times",
    ]


def test_a_dossier_without_any_notice_is_found() -> None:
    rows, arrived = clean()
    assert judge_notices(OURS, [r for r in rows if r["dossier_id"] == "d1"], arrived) == [
        "CODE-2: no notice at all"
    ]


def traces() -> list[Trace]:
    return [Trace(i, p, APPLICANTS[0], dossier_id=f"d{i}", code=f"C{i}")
            for i, p in enumerate([BIRTH, LAND, LAND])]  # fmt: skip


def test_statistics_equal_to_the_driver_pass_and_a_missing_count_fails() -> None:
    rows = [
        {"procedure_id": BIRTH, "received": 1, "resolved_early": 1, "online_received": 1},
        {"procedure_id": LAND, "received": 2, "resolved_on_time": 2, "online_received": 2},
    ]
    assert judge_statistics(rows, traces()) == []
    rows[1]["resolved_on_time"] = 1
    assert judge_statistics(rows, traces()) == [
        f"{LAND}: stats {{'received': 2, 'resolved': 1, 'online_received': 2}}, "
        f"driver {{'received': 2, 'resolved': 2, 'online_received': 2}}"
    ]


def test_a_second_payment_event_is_found_but_a_redelivered_one_is_not() -> None:
    events = [
        TopicEvent("d1", "PaymentSucceeded", "e1", 500),
        TopicEvent("d2", "PaymentSucceeded", "e2", 500),
    ]
    redelivered = [*events, TopicEvent("d1", "PaymentSucceeded", "e1", 500)]
    assert payment_events(redelivered, traces()) == []
    second = [*events, TopicEvent("d1", "PaymentSucceeded", "e3", 500)]
    assert payment_events(second, traces()) == ["C1: 2 PaymentSucceeded events"]
