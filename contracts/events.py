"""The events on Kafka: the only payloads services exchange (topic ``dossier-events``).

Frozen pydantic models, discriminated on ``type``, one module per producing service.
Every event carries the envelope fields; a change that breaks the exported JSON Schemas
in ``contracts/schemas/`` is caught by a test. Consumers ignore event types they do
not know (see ``decode``).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter, ValidationError

from contracts import intake, notify, payment, postal, workflow
from contracts.envelope import Envelope, one_of
from contracts.intake import (
    DossierCompletionRequested,
    DossierIntakeRefused,
    DossierReceived,
    DossierResubmitted,
    DossierSubmitted,
    DossierWithdrawn,
)

__all__ = [
    "EVENTS_OF",
    "EVENT_TYPES",
    "DossierCompletionRequested",
    "DossierIntakeRefused",
    "DossierReceived",
    "DossierResubmitted",
    "DossierSubmitted",
    "DossierWithdrawn",
    "Envelope",
    "UndecodableEvent",
    "decode",
    "encode",
]

# Producer (the service whose relay publishes them) -> its event types, in the order of
# its module: a new event type is one class in its producer's module.
EVENTS_OF: dict[str, tuple[type[Envelope], ...]] = {
    module.__name__.rpartition(".")[2]: tuple(
        cls
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, Envelope)
        and "type" in cls.model_fields
        and cls.__module__ == module.__name__
    )
    for module in (intake, workflow, payment, notify, postal)
}
EVENT_TYPES: dict[str, type[Envelope]] = {
    cls.__name__: cls for kinds in EVENTS_OF.values() for cls in kinds
}
_adapter: TypeAdapter[Envelope] = TypeAdapter(one_of(EVENT_TYPES.values()))


# A newer producer's event may mean something this consumer would misread: it waits in the
# dead-letter topic, with its reason, until the consumer is upgraded and it is re-driven.
SUPPORTED_SCHEMA_VERSIONS = (1,)


class UndecodableEvent(ValueError):
    """A message that is not a valid contract event; it goes to the DLQ with this reason."""


def decode(payload: bytes) -> Envelope | None:
    """The contract event in ``payload``; None for a well-formed event of an unknown type."""
    try:
        raw: Any = _adapter.validate_json(payload)
    except ValidationError as error:
        kind = _peek_type(payload)
        if kind is not None and kind not in EVENT_TYPES:
            return None
        raise UndecodableEvent(_summary(error)) from None
    event: Envelope = raw
    if event.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        raise UndecodableEvent(
            f"unsupported schema_version {event.schema_version} of {type(event).__name__} "
            f"(this consumer reads {', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))})"
        )
    return event


def encode(event: Envelope) -> bytes:
    return event.model_dump_json().encode()


def _peek_type(payload: bytes) -> str | None:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def _summary(error: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in error.errors()[:5]]
    return "; ".join(parts)
