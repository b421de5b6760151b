"""The inter-agency end of the demo: what each ministry's topic received.

Counts the curated events of the demo's dossiers on ``interagency-events`` and on each
ministry's topic, and which personal fields each topic carries (none on the default).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from motcua.core.waiting import wait_for
from motcua.runtime.settings import Settings
from motcua.runtime.topic_reader import read_topic

QUIET_SECONDS = 1.5


def print_feeds(console: Console, settings: Settings, dossier_ids: set[str]) -> dict[str, int]:
    """Wait until every feed is published, then print events per topic; return the counts."""
    base = f"http://{settings.host}:{settings.interagency_port}"
    state: dict[str, Any] = {"last": None, "since": time.monotonic()}

    def settled() -> list[dict[str, Any]] | None:
        feeds: list[dict[str, Any]] = httpx.get(f"{base}/v1/feeds", timeout=10).json()
        positions = [(f["published_position"], f["lag"]) for f in feeds]
        if positions != state["last"]:
            state.update(last=positions, since=time.monotonic())
        quiet = time.monotonic() - state["since"] >= QUIET_SECONDS
        return feeds if quiet and all(f["lag"] == 0 for f in feeds) else None

    feeds: list[dict[str, Any]] = wait_for(settled, "interagency to publish its feeds")
    table = Table(title="Inter-agency topics (docs/ministry-subscription.md)")
    for column in ("topic", "ministry", "events", "dossiers", "personal fields"):
        table.add_column(column, justify="right" if column in ("events", "dossiers") else "left")
    counts: dict[str, int] = {}
    for feed in feeds:
        events = asyncio.run(read_to_end(settings, feed["topic"]))
        ours = {e["event_id"]: e for e in events if e.get("dossier_id") in dossier_ids}
        counts[feed["topic"]] = len(ours)
        table.add_row(
            feed["topic"],
            feed["ministry_name"] or "— (every ministry)",
            str(len(ours)),
            str(len({e["dossier_id"] for e in ours.values()})),
            ", ".join(feed["fields"]) or "none",
        )
    console.print(table)
    return counts


async def read_to_end(settings: Settings, topic: str) -> list[dict[str, Any]]:
    """Every message of ``topic`` now, without a consumer group (nothing is committed)."""
    records = await read_topic(settings, topic, missing_ok=True)
    return [json.loads(m.value or b"{}") for m in records]
