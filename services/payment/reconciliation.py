"""The daily reconciliation with the gateway's settlement file.

The gateway's file of a day (Vietnam time) lists the money it moved: payments and
refunds. Matching it against what we recorded finds what each side is missing and
any amount that differs; every run is kept as a report an admin can read again.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from motcua.core.errors import Unavailable
from motcua.runtime.store import Tx, Write
from services.payment.base import PaymentBase
from services.payment.gateway import GatewayError


class ReconciliationMixin(PaymentBase):
    """Reconcile a day, and read the reports of past runs."""

    def reconcile(self, day: date) -> dict[str, Any]:
        """Match the gateway's settlement file of ``day`` with what we recorded."""
        try:
            settled = self.gateway.settlement(day)
        except GatewayError as error:
            raise Unavailable(f"cannot fetch the settlement file: {error}") from None
        ours: dict[str, dict[str, Any]] = {}
        for row in self.store.read(
            "SELECT transaction_id, payment_code, amount_vnd FROM {payment_transactions} "
            "WHERE day = ? AND method = 'online'",
            (day.isoformat(),),
        ):
            ours[row["transaction_id"]] = {**row, "kind": "payment"}
        for row in self.store.read(
            "SELECT r.refund_transaction_id AS transaction_id, b.payment_code, r.amount_vnd "
            "FROM {payment_refunds} r JOIN {payment_bills} b ON b.dossier_id = r.dossier_id "
            "WHERE r.day = ? AND r.method = 'online' AND r.status = 'succeeded'",
            (day.isoformat(),),
        ):
            ours[row["transaction_id"]] = {**row, "kind": "refund"}
        lines = []
        for s in settled:
            mine = ours.pop(s.transaction_id, None)
            outcome = (
                "missing_in_records"
                if mine is None
                else "matched"
                if mine["amount_vnd"] == s.amount_vnd
                else "amount_mismatch"
            )
            lines.append(
                {
                    "transaction_id": s.transaction_id,
                    "kind": s.kind,
                    "payment_code": s.payment_code,
                    "recorded_vnd": None if mine is None else mine["amount_vnd"],
                    "gateway_vnd": s.amount_vnd,
                    "outcome": outcome,
                }
            )
        for transaction_id, mine in sorted(ours.items()):
            lines.append(
                {
                    "transaction_id": transaction_id,
                    "kind": mine["kind"],
                    "payment_code": mine["payment_code"],
                    "recorded_vnd": mine["amount_vnd"],
                    "gateway_vnd": None,
                    "outcome": "missing_at_gateway",
                }
            )
        report = reconciliation_report(day, self.clock(), lines)
        self.store.write(_save_report(report))
        return report

    def reports(self, day: date) -> list[dict[str, Any]]:
        rows = self.store.read(
            "SELECT report FROM {payment_reconciliations} WHERE day = ? ORDER BY run_at DESC",
            (day.isoformat(),),
        )
        return [json.loads(r["report"]) for r in rows]


def reconciliation_report(
    day: date, run_at: datetime, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line["outcome"]] = counts.get(line["outcome"], 0) + 1
    return {
        "day": day.isoformat(),
        "run_at": run_at.isoformat(),
        "counts": {
            k: counts.get(k, 0)
            for k in ("matched", "amount_mismatch", "missing_in_records", "missing_at_gateway")
        },
        "recorded_vnd": sum(line["recorded_vnd"] or 0 for line in lines),
        "gateway_vnd": sum(line["gateway_vnd"] or 0 for line in lines),
        "lines": lines,
    }


def _save_report(report: dict[str, Any]) -> Write:
    def write(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO {payment_reconciliations} (day, run_at, report) VALUES (?, ?, ?)",
            (report["day"], report["run_at"], json.dumps(report, ensure_ascii=False)),
        )

    return write
