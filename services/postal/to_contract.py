"""How postal's stored events become ``Shipment*`` events on ``dossier-events``."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from contracts import postal as cp
from contracts.envelope import Envelope
from motcua.runtime.envelope import envelope
from motcua.runtime.mapping import BatchAggregates
from services.postal.application import PostalApplication

PRODUCER = "postal"
TRACKED: dict[str, type[Envelope]] = {
    "picked_up": cp.ShipmentPickedUp,
    "delivered": cp.ShipmentDelivered,
    "returned": cp.ShipmentReturned,
}


class PostalPublisher:
    def __init__(self, app: PostalApplication) -> None:
        self.operator = app.settings.postal_operator_name

    def __call__(
        self, event: DomainEventProtocol[UUID], aggregates: BatchAggregates
    ) -> Envelope | None:
        kind = type(event).__name__
        fields = envelope(PRODUCER, event)
        e = vars(event)
        if kind == "Ordered":
            return cp.ShipmentOrdered.model_validate(
                {
                    **fields,
                    "tracking_number": e["tracking_number"],
                    "operator": self.operator,
                    "ordered_at": e["at"],
                }
            )
        if kind == "Tracked":
            model = TRACKED[e["status"]]
            extra = {k: e[k] for k in ("received_by", "reason") if k in model.model_fields}
            return model.model_validate(
                {**fields, "tracking_number": e["tracking_number"], "at": e["at"], **extra}
            )
        return None  # Requested: internal, until the operator has the order
