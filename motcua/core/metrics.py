"""Prometheus metrics of every service, served on ``GET /metrics``.

One process runs one service, so the process-wide registry is the service's; the
``service`` label still says whose figures they are when scrapes are merged. Counters
and histograms are updated where the work happens (consumer, relay, notify); the lags
are gauges computed when Prometheus scrapes, from the same positions the service
resumes from, so a dashboard never shows a figure the service does not act on.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

log = structlog.get_logger(__name__)

EVENTS_APPLIED = Counter(
    "motcua_consumer_events_applied_total",
    "Events applied by the service's tracked consumer (including ignored types)",
    ["service"],
)
EVENTS_SKIPPED = Counter(
    "motcua_consumer_events_skipped_total",
    "Events skipped because they had been applied before (republished or redelivered)",
    ["service"],
)
DEAD_LETTERED = Counter(
    "motcua_consumer_dead_lettered_total",
    "Messages sent to the service's dead-letter topic, by reason",
    ["service", "reason"],
)
BATCHES_REWOUND = Counter(
    "motcua_consumer_batches_rewound_total",
    "Fetched batches that failed past the per-record fallback and were fetched again",
    ["service"],
)
HANDLER_SECONDS = Histogram(
    "motcua_consumer_handler_seconds",
    "Time to apply one unit of work (a fetched batch, or one record of a failed batch)",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CONSUMER_LAG = Gauge(
    "motcua_consumer_lag_messages",
    "Messages on the partition after the consumer's position (high watermark minus position)",
    ["service", "topic", "partition"],
)
RELAY_PUBLISHED = Counter(
    "motcua_relay_published_total", "Stored events published by the outbox relay", ["service"]
)
RELAY_LAG = Gauge(
    "motcua_relay_lag_events", "Stored events not yet published by the outbox relay", ["service"]
)
NOTICES = Counter(
    "motcua_notices_total",
    "Notice deliveries by channel and outcome (delivered, retry, failed)",
    ["channel", "outcome"],
)

Refresh = Callable[[], None]


class OnScrape:
    """A refresher registered with ``on_scrape``: ``close`` (or leaving its ``with``
    block) drops it, so a stopped worker is not asked for its gauges any more."""

    def __init__(self, refresh: Refresh) -> None:
        self.refresh = refresh

    def close(self) -> None:
        """Run no more before scrapes; closing again does nothing."""
        if self in _refreshers:
            _refreshers.remove(self)

    def __enter__(self) -> OnScrape:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# Registered refreshers, like the process-wide registry of the metrics they refresh;
# each is dropped by its owner when that stops (``OnScrape.close``).
_refreshers: list[OnScrape] = []


def on_scrape(refresh: Refresh) -> OnScrape:
    """Run ``refresh`` before each scrape (for gauges read from the store or the client)
    until the returned handle is closed."""
    handle = OnScrape(refresh)
    _refreshers.append(handle)
    return handle


def refreshers() -> list[Refresh]:
    """The refreshers run before the next scrape, in the order they were registered."""
    return [h.refresh for h in _refreshers]


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    for refresh in refreshers():
        try:
            refresh()
        except Exception as error:  # the gauge keeps its last value; the scrape goes on
            log.warning("metric not refreshed", error=repr(error))
    return generate_latest(), CONTENT_TYPE_LATEST
