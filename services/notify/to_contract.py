"""How notify's outcomes become ``NoticeDelivered`` / ``NoticeFailed`` on ``dossier-events``.

Recipients are masked on the topic (``09******78``, ``l***@example.vn``): the dossier's
timeline needs to know a notice went out, not the full address.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from contracts.envelope import Envelope
from contracts.notify import NoticeDelivered, NoticeFailed
from motcua.runtime.envelope import envelope
from motcua.runtime.mapping import BatchAggregates
from services.notify.application import NotifyApplication
from services.notify.domain import Notice

PRODUCER = "notify"


def mask(channel: str, recipient: str) -> str:
    if channel == "email" and "@" in recipient:
        name, domain = recipient.split("@", 1)
        return f"{name[:1]}***@{domain}"
    if channel == "sms":
        return recipient[:2] + "*" * max(0, len(recipient) - 4) + recipient[-2:]
    return recipient


class NotifyPublisher:
    def __init__(self, app: NotifyApplication) -> None:
        self.app = app

    def __call__(
        self, event: DomainEventProtocol[UUID], aggregates: BatchAggregates
    ) -> Envelope | None:
        kind = type(event).__name__
        if kind not in ("Delivered", "Failed"):
            return None
        n: Notice = aggregates.at(event)
        fields = {
            **envelope(PRODUCER, event),
            "dossier_id": n.dossier_id,
            "notice_id": n.id,
            "source_event_id": n.source_event_id,
            "kind": n.kind,
            "channel": n.channel,
            "recipient": mask(n.channel, n.recipient),
            "attempts": n.attempts,
        }
        if kind == "Delivered":
            return NoticeDelivered.model_validate(fields)
        return NoticeFailed.model_validate({**fields, "error": n.error or ""})
