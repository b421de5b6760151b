"""The tracked consumer's positions, kept in the service's own store.

Two kinds, both written in the unit of work that applies the records:

* per partition, the next Kafka offset (``consumer_offsets``), so a consumer resumes
  from its own store on start and on every partition assignment;
* per partition and producer, the highest outbox position applied
  (``consumer_watermarks``): a record republished or redelivered carries a position at
  or below its producer's watermark and is recognised as applied before.

This module owns both tables: every read and write of their rows is here, for the
consumer (``Positions``, ``consumer_offsets``, ``consumer_watermarks``) and for the
operators' tools that move a consumer's positions (``raise_positions`` for the stats
replay, ``forget_consumer_offsets`` for republishing). Their shape is a step of
``migrations.py``, created when the store is opened.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import ConsumerRecord, TopicPartition
from eventsourcing.persistence import IntegrityError

from motcua.runtime.kafka import header
from motcua.runtime.store import Store, Tx

# (topic, partition, producer): where a watermark applies.
Mark = tuple[str, int, str]


class Positions:
    """The consumer's positions for one unit of work, read and written in its transaction.

    The stored watermarks decide what was applied before (a republished or redelivered
    record carries a position at or below its producer's watermark); the records applied
    advance them and the partitions' next offsets, written once per batch."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.watermarks: dict[tuple[str, int, str], int] = {}
        self.offsets: dict[tuple[str, int], int] = {}
        self._seen: dict[tuple[str, int, str], int] = {}

    def load(self, tx: Tx, partitions: set[tuple[str, int]]) -> None:
        lock = " FOR UPDATE" if tx.dialect == "postgres" else ""
        for topic, part in sorted(partitions):
            tx.execute(
                "SELECT producer, position FROM {consumer_watermarks} "
                f"WHERE consumer = ? AND topic = ? AND part = ?{lock}",
                (self.consumer, topic, part),
            )
            for row in tx.fetchall():
                self._seen[(topic, part, row["producer"])] = int(row["position"])

    def applied_before(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        key = (record.topic, record.partition, producer_of(record))
        seen = max(self._seen.get(key, -1), self.watermarks.get(key, -1))
        return seen >= position_of(record)

    def advance(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """``record`` is applied: its producer's watermark and its partition's offset."""
        self.watermarks[(record.topic, record.partition, producer_of(record))] = position_of(record)
        self.pass_over(record)

    def pass_over(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """``record`` needs nothing (applied before): resume after it all the same."""
        tp = (record.topic, record.partition)
        self.offsets[tp] = max(self.offsets.get(tp, 0), record.offset + 1)

    def write(self, tx: Tx) -> None:
        """Raise the watermarks (only upwards: a row that another instance raised
        meanwhile makes the whole unit a lost race, decided again) and the offsets."""
        for (topic, part, producer), position in self.watermarks.items():
            tx.execute(
                "INSERT INTO {consumer_watermarks} (consumer, topic, part, producer, position) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (consumer, topic, part, producer) "
                "DO UPDATE SET position = excluded.position "
                "WHERE {consumer_watermarks}.position < excluded.position RETURNING position",
                (self.consumer, topic, part, producer, position),
            )
            if tx.fetchone() is None:
                raise IntegrityError(f"{self.consumer}: {topic}/{part} applied meanwhile")
        for (topic, part), next_offset in self.offsets.items():
            tx.execute(
                "INSERT INTO {consumer_offsets} (consumer, topic, part, next_offset) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (consumer, topic, part) "
                "DO UPDATE SET next_offset = excluded.next_offset",
                (self.consumer, topic, part, next_offset),
            )


def producer_of(record: ConsumerRecord[bytes, bytes]) -> str:
    return header(record.headers, "producer") or ""


def position_of(record: ConsumerRecord[bytes, bytes]) -> int:
    raw = header(record.headers, "position")
    return int(raw) if raw and raw.isdigit() else record.offset


def consumer_offsets(
    reader: Store | Tx, consumer: str, topic: str | None = None
) -> dict[TopicPartition, int]:
    """The consumer's next offset per partition (of ``topic`` only, if given)."""
    statement = "SELECT topic, part, next_offset FROM {consumer_offsets} WHERE consumer = ?"
    params: tuple[str, ...] = (consumer,)
    if topic is not None:
        statement, params = f"{statement} AND topic = ?", (consumer, topic)
    rows = reader.read(statement, params)
    return {TopicPartition(r["topic"], int(r["part"])): int(r["next_offset"]) for r in rows}


def consumer_watermarks(reader: Store | Tx, consumer: str) -> dict[Mark, int]:
    """The consumer's highest applied position per (topic, partition, producer)."""
    rows = reader.read(
        "SELECT topic, part, producer, position FROM {consumer_watermarks} WHERE consumer = ?",
        (consumer,),
    )
    return {(r["topic"], int(r["part"]), r["producer"]): int(r["position"]) for r in rows}


def raise_positions(
    tx: Tx, consumer: str, offsets: Mapping[TopicPartition, int], watermarks: Mapping[Mark, int]
) -> None:
    """Raise the consumer's positions to these, never lowering any: what a replay that
    applied the same records records for the live consumer (``ops/replay.py``)."""
    for tp, next_offset in offsets.items():
        tx.execute(
            "INSERT INTO {consumer_offsets} (consumer, topic, part, next_offset) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (consumer, topic, part) "
            "DO UPDATE SET next_offset = excluded.next_offset "
            "WHERE {consumer_offsets}.next_offset < excluded.next_offset",
            (consumer, tp.topic, tp.partition, next_offset),
        )
    for (topic, part, producer), position in watermarks.items():
        tx.execute(
            "INSERT INTO {consumer_watermarks} (consumer, topic, part, producer, position) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (consumer, topic, part, producer) "
            "DO UPDATE SET position = excluded.position "
            "WHERE {consumer_watermarks}.position < excluded.position",
            (consumer, topic, part, producer, position),
        )


def forget_consumer_offsets(tx: Tx) -> None:
    """Every consumer of the store reads its topics again from the start (after the
    topic was rebuilt: ``ops/republish.py``). The watermarks stay: they make reading
    again harmless."""
    tx.execute("DELETE FROM {consumer_offsets}")
