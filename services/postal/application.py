"""PostalApplication: results sent by post, and what the operator says of them (O-4).

It consumes ``dossier-events``: ``DossierReceived`` with a delivery address keeps the
address; ``ResultIssued`` of kind ``post`` requests a shipment, in the consumer's unit
of work. A periodic loop places the requested orders with the operator (idempotent by
the dossier's id, retried with backoff while the operator is unreachable); the
operator's signed callbacks move the shipment, once each and never backwards. Each
step is published on ``dossier-events`` (``contracts/postal.py``): workflow records the
delivery as the result's return, notify tells the applicant.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from contracts.intake import DossierReceived
from contracts.workflow import ResultIssued
from motcua.core.clock import system_clock
from motcua.core.errors import Invalid, NotFound, Unauthorized
from motcua.core.retry import backoff_seconds, retry_on_conflict
from motcua.core.signatures import BadSignature
from motcua.runtime.handlers import Handlers
from motcua.runtime.store import Store, Tx
from motcua.runtime.unit_of_work import UnitOfWork
from motcua.web.auth import Caller
from services.postal.domain import Shipment
from services.postal.operator import PostalError, PostalOperator, ShipmentOrder
from services.postal.readmodel import create_tables, dossier_row, shipment_row, unaddressed_row
from services.postal.settings import PostalSettings

log = structlog.get_logger(__name__)


# Orders are retried on the real clock, whatever business clock the stack runs on.
now = system_clock


class PostalApplication(Application[UUID]):
    name = "postal"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        settings: PostalSettings,
        operator: PostalOperator,
    ) -> None:
        super().__init__(env)
        self.settings, self.operator = settings, operator
        self.store = Store(self.recorder)  # type: ignore[arg-type]
        self.store.write(create_tables)

    # -- the consumer --------------------------------------------------------------------

    def handlers(self) -> Handlers:
        return Handlers({DossierReceived: self.remember, ResultIssued: self.request})

    def remember(self, event: DossierReceived, uow: UnitOfWork) -> None:
        """The dossier's code, and where the applicant wants the result posted, if anywhere."""
        address = event.delivery_address
        uow.write(
            dossier_row(
                event.dossier_id, event.code, address.model_dump(mode="json") if address else None
            )
        )

    def request(self, event: ResultIssued, uow: UnitOfWork) -> None:
        if event.kind != "post" or uow.get(event.dossier_id, Shipment) is not None:
            return
        row = uow.read_one(
            "SELECT code, address FROM {postal_dossiers} WHERE dossier_id = ?",
            (str(event.dossier_id),),
        )
        code = row["code"] if row else str(event.dossier_id)
        if row is None or row["address"] is None:
            log.error("result issued for post without an address", dossier=code)
            uow.write(unaddressed_row(event.dossier_id, code, event.agency_code, now()))
            return
        shipment = Shipment(
            dossier_id=event.dossier_id,
            code=row["code"],
            sender=event.agency_code,
            address=json.loads(row["address"]),
        )
        uow.save(shipment, writes=[shipment_row(shipment, now())])

    # -- placing orders ------------------------------------------------------------------

    def place_due(self) -> int:
        """Order every requested shipment whose time has come; return how many were tried."""
        rows = self.store.read(
            "SELECT dossier_id, attempts FROM {postal_shipments} "
            "WHERE status = 'requested' AND due_at <= ? ORDER BY due_at LIMIT 50",
            (now().isoformat(),),
        )
        for row in rows:
            self._place(UUID(row["dossier_id"]), int(row["attempts"]))
        return len(rows)

    def _place(self, dossier_id: UUID, attempts: int) -> None:
        shipment = self._shipment(dossier_id)
        if shipment.status != "requested":
            return
        order = ShipmentOrder(
            order_id=str(shipment.id),
            code=shipment.code,
            sender=shipment.sender,
            address=shipment.address,
            callback_url=self.settings.postal_callback_url,
        )
        try:
            tracking_number = self.operator.order(order)
        except PostalError as error:
            self._failed(dossier_id, attempts + 1, str(error))
            return
        shipment.ordered(tracking_number=tracking_number, at=now())
        with contextlib.suppress(IntegrityError):  # a callback (or another instance) was first
            self.save(shipment, writes=[shipment_row(shipment, now())])

    def _failed(self, dossier_id: UUID, attempts: int, error: str) -> None:
        s = self.settings
        backoff = backoff_seconds(
            attempts, s.postal_retry_base_seconds, s.postal_retry_max_seconds, (0.5, 1.0)
        )
        retry_at = now() + timedelta(seconds=backoff)
        log.warning("shipment order failed", dossier=str(dossier_id), attempt=attempts, error=error)

        def failed(tx: Tx) -> None:
            tx.execute(
                "UPDATE {postal_shipments} SET attempts = ?, last_error = ?, due_at = ? "
                "WHERE dossier_id = ?",
                (attempts, error[:500], retry_at.isoformat(), str(dossier_id)),
            )

        self.store.write(failed)

    # -- the operator's callbacks --------------------------------------------------------

    def callback(self, headers: Mapping[str, str], body: bytes) -> str:
        """Apply one signed tracking callback; returns what it did: applied, or
        ignored (seen before, or older news than the shipment already has)."""
        try:
            callback = self.operator.verify_callback(headers, body)
        except BadSignature as error:
            log.warning("postal callback rejected", reason=str(error))
            raise Unauthorized(f"callback rejected: {error}") from None
        except ValueError as error:
            raise Invalid(f"callback body is not valid: {error}") from None
        try:
            dossier_id = UUID(callback.order_id)
        except ValueError:
            raise NotFound(f"no shipment for order {callback.order_id}") from None
        return self._track(dossier_id, callback.model_dump())

    @retry_on_conflict
    def _track(self, dossier_id: UUID, news: dict[str, Any]) -> str:
        shipment = self._shipment(dossier_id)
        if not shipment.moves(news["status"], news["event_id"]):
            return "ignored"
        if shipment.status == "requested":  # the order's answer was lost; the callback says
            shipment.ordered(tracking_number=news["tracking_number"], at=news["at"])
        shipment.tracked(
            status=news["status"],
            callback_id=news["event_id"],
            tracking_number=news["tracking_number"],
            at=news["at"],
            received_by=news["received_by"],
            reason=news["reason"],
        )
        self.save(shipment, writes=[shipment_row(shipment, now())])
        return "applied"

    # -- queries -------------------------------------------------------------------------

    def shipments(
        self, caller: Caller, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        caller.require("officer", "admin", "inspector")
        where, params = ("status = ?", [status]) if status else ("1 = 1", [])
        return self.store.read(
            f"SELECT dossier_id, code, sender, status, tracking_number, attempts, last_error, "
            f"updated_at FROM {{postal_shipments}} WHERE {where} ORDER BY updated_at "
            "LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )

    def history(self, caller: Caller, code: str) -> dict[str, Any]:
        """The shipment of a dossier, by code, with each step the operator reported."""
        caller.require("officer", "admin", "inspector")
        row = self.store.read_one(
            "SELECT dossier_id FROM {postal_shipments} WHERE code = ?", (code,)
        )
        if row is None:
            raise NotFound(f"no shipment for dossier {code}")
        shipment = self._shipment(UUID(row["dossier_id"]))
        steps = [
            {"status": type(e).__name__.lower(), **_step(e)}
            for e in self.repository.event_store.get(shipment.id)
        ]
        return {
            "code": shipment.code,
            "status": shipment.status,
            "tracking_number": shipment.tracking_number,
            "steps": steps,
        }

    def _shipment(self, dossier_id: UUID) -> Shipment:
        try:
            shipment: Shipment = self.repository.get(dossier_id)
        except AggregateNotFoundError:
            raise NotFound(f"no shipment for dossier {dossier_id}") from None
        return shipment


def _step(event: Any) -> dict[str, Any]:
    if type(event).__name__ == "Tracked":
        return {"status": event.status, "at": event.at, "received_by": event.received_by}
    if type(event).__name__ == "Ordered":
        return {"tracking_number": event.tracking_number, "at": event.at}
    return {"at": event.timestamp}
