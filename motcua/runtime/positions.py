"""The tracked consumer's positions, kept in the service's own store.

Two kinds, both written in the unit of work that applies the records:

* per partition, the next Kafka offset (``consumer_offsets``), so a consumer resumes
  from its own store on start and on every partition assignment;
* per partition and producer, the highest outbox position applied
  (``consumer_watermarks``): a record republished or redelivered carries a position at
  or below its producer's watermark and is recognised as applied before.
"""

from __future__ import annotations

from aiokafka import ConsumerRecord
from eventsourcing.persistence import IntegrityError

from motcua.runtime.kafka import header
from motcua.runtime.store import Tx

CREATE_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS {consumer_offsets} (
        consumer TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        PRIMARY KEY (consumer, topic, part)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS {consumer_watermarks} (
        consumer TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,
        producer TEXT NOT NULL, position BIGINT NOT NULL,
        PRIMARY KEY (consumer, topic, part, producer)
    )
    """,
)


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
