"""FastStream's ``KafkaBroker``, configured the way our Kafka layer needs it.

A service's tracked consumer is a batch subscriber of such a broker, and its relays
publish through publishers declared on one (``consumer.py``, ``relay.py``). What the
defaults would get wrong, and is set here:

* connection: the same servers, TLS and SASL as every other client of ours
  (``kafka.client_options``), translated into FastStream's security objects;
* producing: ``acks="all"`` (FastStream's default is 1), linger and batch size as our
  aiokafka producer had them;
* topics: created by ``kafka.ensure_topics`` with their retention configs, never by
  FastStream (its topics have no configs), so it is told not to;
* no dependency injection (``apply_types=False``): handlers take raw records, and the
  per-message model would cost CPU for nothing;
* its per-message access log at DEBUG: one line per batch at INFO was noise.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def security_of(options: dict[str, Any]) -> BaseSecurity | None:
    """FastStream's security object for aiokafka connection ``options``."""
    protocol = options.get("security_protocol", "PLAINTEXT")
    ssl_context = options.get("ssl_context")
    use_ssl = protocol in ("SSL", "SASL_SSL")
    if protocol.startswith("SASL"):
        mechanism = options.get("sasl_mechanism") or "PLAIN"
        if mechanism not in SASL:
            raise ValueError(f"SASL mechanism {mechanism!r} is not supported")
        return SASL[mechanism](
            options.get("sasl_plain_username") or "",
            options.get("sasl_plain_password") or "",
            ssl_context=ssl_context,
            use_ssl=use_ssl,
        )
    if use_ssl:
        return BaseSecurity(ssl_context=ssl_context, use_ssl=True)
    return None


def kafka_broker(
    options: dict[str, Any],
    *,
    middlewares: Sequence[Any] = (),
    consumer_only: bool = False,
    enable_idempotence: bool = False,
) -> KafkaBroker:
    """A broker on the servers of ``options`` (``kafka.client_options``)."""
    return KafkaBroker(
        options["bootstrap_servers"],
        security=security_of(options),
        acks="all",
        enable_idempotence=enable_idempotence,
        linger_ms=2,
        max_batch_size=1024 * 1024,
        consumer_only=consumer_only,
        allow_auto_create_topics=False,
        apply_types=False,
        middlewares=middlewares,
        log_level=logging.DEBUG,
        graceful_timeout=5.0,
    )
