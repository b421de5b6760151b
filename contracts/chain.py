"""The tamper-evident chain of a dossier's events, and its verification.

Several services publish events of the same dossier, each from its own store, without
coordinating: no service can know what another is publishing at the same moment. A
single linear chain across services would need one sequencer that every event passes
through (one more service that must be up for anything to happen). Instead, the chain
of a dossier is **a braid of strands, one per producer**: each producer is the only
writer of its strand, publishes it in its store's order, and so can always name the
previous link. The dossier's topic partition interleaves the strands in the order the
broker received them.

Every contract event carries:

* ``chain_seq``: its number among the dossier's events *from the same producer*,
  counting from 1 with no gaps;
* ``prev_hash``: the SHA-256 of the previous event of that strand (``None`` for 1).

The hash of an event is the SHA-256 of its canonical JSON (every field, including
``chain_seq`` and ``prev_hash``; keys sorted, no spaces, UTF-8), so a verifier holding
only the messages can recompute it. Altering an event changes its hash and breaks the
next link of its strand; removing one leaves a gap in ``chain_seq``. The last event of a
strand has no successor: ``motcua audit`` anchors it against the producer's store,
which records the hash of each strand's head (``chain_heads``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = None


def canonical(event: Mapping[str, Any]) -> bytes:
    """The bytes that are hashed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an event given as its JSON object (``json.loads`` of a message)."""
    return hashlib.sha256(canonical(event)).hexdigest()


@dataclass(frozen=True)
class Head:
    """The last link of one strand: its number and hash."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Break:
    """Where a strand does not hold, said so that an auditor can act on it."""

    producer: str
    chain_seq: int
    event_id: str | None
    problem: str


def verify(
    events: Iterable[Mapping[str, Any]], heads: Mapping[str, Head] | None = None
) -> list[Break]:
    """Every break in the strands of one dossier's ``events`` (in any order).

    ``heads`` (producer → the head recorded in its store), when given, also anchors
    the end of each strand: a last event altered or removed is then found too.
    """
    strands: dict[str, list[Mapping[str, Any]]] = {}
    for event in events:
        strands.setdefault(str(event.get("producer")), []).append(event)
    breaks: list[Break] = []
    for producer, strand in sorted(strands.items()):
        breaks += _verify_strand(producer, sorted(strand, key=lambda e: int(e.get("chain_seq", 0))))
    for producer, head in sorted((heads or {}).items()):
        breaks += _verify_head(producer, strands.get(producer, []), head)
    return breaks


def _verify_strand(producer: str, strand: list[Mapping[str, Any]]) -> list[Break]:
    breaks: list[Break] = []
    previous: Mapping[str, Any] | None = None
    for event in strand:
        seq, event_id = int(event.get("chain_seq", 0)), str(event.get("event_id"))
        expected = 1 if previous is None else int(previous.get("chain_seq", 0)) + 1
        if previous is not None and seq == expected - 1:
            breaks.append(Break(producer, seq, event_id, f"two events claim number {seq}"))
        elif seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
            breaks.append(
                Break(producer, seq, event_id, f"event(s) {missing} of {producer} missing")
            )
        elif previous is None and event.get("prev_hash") is not GENESIS:
            breaks.append(Break(producer, seq, event_id, "first event names a predecessor"))
        elif previous is not None and event.get("prev_hash") != event_hash(previous):
            breaks.append(
                Break(
                    producer,
                    int(previous.get("chain_seq", 0)),
                    str(previous.get("event_id")),
                    f"altered: its hash does not match what event {seq} of {producer} "
                    "recorded as its predecessor",
                )
            )
        previous = event
    return breaks


def _verify_head(producer: str, strand: list[Mapping[str, Any]], head: Head) -> list[Break]:
    last = max(strand, key=lambda e: int(e.get("chain_seq", 0)), default=None)
    if last is None or int(last.get("chain_seq", 0)) < head.seq:
        have = 0 if last is None else int(last.get("chain_seq", 0))
        missing = f"{have + 1}" if head.seq == have + 1 else f"{have + 1} to {head.seq}"
        return [
            Break(producer, head.seq, None, f"event(s) {missing} of {producer} missing at the end")
        ]
    if int(last.get("chain_seq", 0)) == head.seq and event_hash(last) != head.hash:
        return [
            Break(
                producer,
                head.seq,
                str(last.get("event_id")),
                "altered: its hash does not match the head recorded in the producer's store",
            )
        ]
    return []
