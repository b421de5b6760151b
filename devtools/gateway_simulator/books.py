"""The simulated gateway's books and their journal.

The books are orders, transactions, refunds, settlement adjustments and the callbacks
acknowledged. Every change is one JSON line of the journal (``journal.jsonl``),
appended before it is applied to memory and replayed on start, so a restart keeps
them. A crash may leave the last line torn: it is skipped, with a warning.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import structlog

from devtools.gateway_simulator.models import Delivery, RefundRecord, Transaction
from services.payment.gateway import Order

log = structlog.get_logger(__name__)

JOURNAL_NAME = "journal.jsonl"


def read_journal(path: Path) -> Iterator[tuple[str, Any]]:
    """The kind and data of each entry, in the order they were recorded."""
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            if number < len(lines):
                raise
            log.warning("journal ends with a torn line; ignored", path=str(path))
            continue
        yield entry["kind"], entry["data"]


def append_to_journal(path: Path, kind: str, data: Mapping[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"kind": kind, "data": data}, ensure_ascii=False) + "\n")


class Books:
    """What the gateway knows, in memory and in its journal.

    Every change is a journal line applied to memory by ``_apply``, both live and when
    the journal is replayed, so the two can never disagree. A ``threading.Lock`` guards
    the state because handlers and test code may run on different threads.
    """

    def __init__(self, folder: Path) -> None:
        self.lock = threading.Lock()
        self.orders: dict[str, Order] = {}
        self.transactions: dict[str, Transaction] = {}
        self.outcomes: dict[str, str] = {}  # order_id -> its payment transaction_id
        self.refunds: dict[str, RefundRecord] = {}
        self.adjustments: dict[str, int] = {}
        self.delivered: set[str] = set()  # event ids acknowledged at least once
        self.deliveries: list[Delivery] = []
        folder.mkdir(parents=True, exist_ok=True)
        self.journal = folder / JOURNAL_NAME
        self._replay()

    # -- journal ------------------------------------------------------------------

    def _replay(self) -> None:
        for kind, data in read_journal(self.journal):
            self._apply(kind, data)

    def _record(self, kind: str, data: Mapping[str, Any]) -> None:
        """Append a change to the journal, then apply it. Call with the lock held."""
        append_to_journal(self.journal, kind, data)
        self._apply(kind, data)

    def _apply(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind == "order":
            order = Order.model_validate(data)
            self.orders[order.order_id] = order
        elif kind == "transaction":
            self._add_transaction(Transaction.model_validate(data))
        elif kind == "refund":
            record = RefundRecord.model_validate(data)
            self.refunds[record.request.refund_id] = record
            if record.transaction is not None:
                self._add_transaction(record.transaction)
        elif kind == "adjustment":
            self.adjustments[data["transaction_id"]] = int(data["amount_vnd"])
        elif kind == "delivered":
            self.delivered.add(data["event_id"])
        else:
            raise ValueError(f"unknown journal entry {kind!r}")

    def _add_transaction(self, transaction: Transaction) -> None:
        self.transactions[transaction.transaction_id] = transaction
        if transaction.kind == "payment":
            self.outcomes[transaction.order_id] = transaction.transaction_id
