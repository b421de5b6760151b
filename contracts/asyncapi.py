"""The AsyncAPI 3.0 document of every topic motcua uses, written to ``docs/asyncapi.json``.

It is generated from the contract models and the settings' defaults, so it cannot
drift from the code: a test fails when the committed document differs from what this
module generates. Run ``python -m contracts.asyncapi`` (``make schemas`` does) after a
deliberate change. JSON rather than YAML: every AsyncAPI tool reads both, and JSON
needs no extra dependency.

Channels: ``dossier-events`` (every service's contract events), ``<service>.dlq``
(messages a consumer could not apply), ``interagency-events`` (curated, no personal
data) and ``interagency-events.<ministry>`` (the same plus the configured fields).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from contracts.events import EVENT_TYPES
from contracts.interagency import INTERAGENCY_EVENT_TYPES
from motcua.runtime.settings import Settings
from services.registry import CONSUMERS

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "asyncapi.json"
MINISTRIES = Path(__file__).resolve().parent.parent / "services/interagency/data/ministries.json"
KAFKA = "0.5.0"  # version of the Kafka bindings
SCHEMAS = "#/components/schemas"

KEY = {
    "type": "string",
    "format": "uuid",
    "description": "The dossier id: a dossier's events are on one partition, in order",
}


def _default(name: str) -> Any:
    """A setting's default, not the environment's value: the document is the same everywhere."""
    return Settings.model_fields[name].default


def _headers(producer: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "producer": {"type": "string", "description": producer},
            "position": {
                "type": "string",
                "pattern": "^[0-9]+$",
                "description": "Position of the event in its producer's store (an integer). "
                "A repeat after a relay crash has the same position and event_id",
            },
            "type": {"type": "string", "description": "The event type, as the payload's `type`"},
            "correlation_id": {
                "type": "string",
                "description": "The payload's `correlation_id` (set by the relays' publisher)",
            },
            "content-type": {"type": "string", "const": "application/json"},
        },
        "required": ["producer", "position", "type"],
    }


DLQ_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "The original message's headers, plus these",
    "properties": {
        "dlq-reason": {
            "type": "string",
            "description": "Why: 'undecodable: …' or 'handler failed: …' (at most 4000 bytes)",
        },
        "dlq-source": {
            "type": "string",
            "pattern": "^.+/[0-9]+/[0-9]+$",
            "description": "<topic>/<partition>/<offset> of the original message",
        },
        "dlq-consumer": {"type": "string", "description": "The consumer (service) that gave up"},
        "dlq-at": {"type": "string", "description": "When, in Unix seconds (a decimal)"},
    },
    "required": ["dlq-reason", "dlq-source", "dlq-consumer", "dlq-at"],
}


def _schemas() -> dict[str, Any]:
    """Every event's JSON Schema, with references into ``components/schemas``."""
    models: list[type[BaseModel]] = [*EVENT_TYPES.values(), *INTERAGENCY_EVENT_TYPES.values()]
    _, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template=f"{SCHEMAS}/{{model}}"
    )
    schemas: dict[str, Any] = defs["$defs"]
    schemas["DossierEventHeaders"] = _headers("The service that published the event")
    schemas["InteragencyHeaders"] = _headers(
        "`interagency` on the default topic, `interagency.<ministry>` on a ministry's"
    )
    schemas["DeadLetterHeaders"] = DLQ_HEADERS
    return dict(sorted(schemas.items()))


def _message(name: str, model: type[BaseModel], headers: str) -> dict[str, Any]:
    description = str(model.model_json_schema().get("description", "")).strip()
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "contentType": "application/json",
        "headers": {"$ref": f"{SCHEMAS}/{headers}"},
        "payload": {"$ref": f"{SCHEMAS}/{name}"},
        "bindings": {"kafka": {"key": KEY, "bindingVersion": KAFKA}},
    }
    if description:
        message["summary"] = description.splitlines()[0]
        if "\n" in description:
            message["description"] = description
    return message


def _messages() -> dict[str, Any]:
    messages = {
        name: _message(name, model, "DossierEventHeaders")
        for name, model in sorted(EVENT_TYPES.items())
    }
    messages |= {
        name: _message(name, model, "InteragencyHeaders")
        for name, model in sorted(INTERAGENCY_EVENT_TYPES.items())
    }
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "A message a consumer could not apply",
        "summary": "The original message, unchanged, with the reason in its headers",
        "contentType": "application/octet-stream",
        "headers": {"$ref": f"{SCHEMAS}/DeadLetterHeaders"},
        "payload": {"description": "The original value, byte for byte (it may not be JSON)"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original message's key"},
                "bindingVersion": KAFKA,
            }
        },
    }
    return messages


def _refs(names: list[str]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/messages/{name}"} for name in names}


def _topic(partitions: int) -> dict[str, Any]:
    return {
        "kafka": {
            "partitions": partitions,
            "topicConfiguration": {"retention.ms": -1, "retention.bytes": -1},
            "bindingVersion": KAFKA,
        }
    }


def _ministry_codes() -> list[str]:
    data = json.loads(MINISTRIES.read_text(encoding="utf-8"))
    return [str(m["code"]) for m in data["ministries"]]


def _channels() -> dict[str, Any]:
    partitions = int(_default("topic_partitions"))
    interagency = str(_default("interagency_topic"))
    curated = _refs(sorted(INTERAGENCY_EVENT_TYPES))
    return {
        "dossierEvents": {
            "address": _default("dossier_topic"),
            "title": "Dossier events",
            "description": "Every contract event of every service, keyed by dossier id. "
            "Kept forever: it is the audit trail and the source of replays.",
            "messages": _refs(sorted(EVENT_TYPES)),
            "bindings": _topic(partitions),
        },
        "deadLetters": {
            "address": "{service}" + _default("dlq_topic_suffix"),
            "title": "Dead letters of one consumer",
            "description": "Messages a service's consumer could not decode or apply after "
            "retries; its position moved on, so nothing crash-loops and nothing is dropped "
            "silently.",
            "parameters": {
                "service": {"enum": list(CONSUMERS), "description": "The consuming service"}
            },
            "messages": _refs(["DeadLetter"]),
            "bindings": _topic(partitions),
        },
        "interagencyEvents": {
            "address": interagency,
            "title": "Inter-agency events (no personal data)",
            "description": "Curated progress of the dossiers whose process involves several "
            "agencies or that a ministry receives. The optional personal fields are always "
            "null here. See docs/ministry-subscription.md.",
            "messages": curated,
            "bindings": _topic(partitions),
        },
        "ministryEvents": {
            "address": interagency + ".{ministry}",
            "title": "One ministry's inter-agency events",
            "description": "The same events, for the dossiers this ministry receives, with "
            "the extra fields its configuration allows "
            "(services/interagency/data/ministries.json).",
            "parameters": {
                "ministry": {
                    "description": "The ministry's code in the configuration",
                    "examples": _ministry_codes(),
                }
            },
            "messages": curated,
            "bindings": _topic(partitions),
        },
    }


def _operation(action: str, channel: str, summary: str) -> dict[str, Any]:
    return {"action": action, "channel": {"$ref": f"#/channels/{channel}"}, "summary": summary}


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document, from the models and the default settings."""
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "motcua events",
            "version": "1.0.0",
            "description": "The Kafka topics of motcua, the event-sourced backend of a "
            "provincial single-window public-service system. Every message is a JSON "
            "contract event (contracts/, schemas in contracts/schemas/) keyed by the dossier "
            "id. Ministries: read docs/ministry-subscription.md.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "embedded": {
                "host": f"127.0.0.1:{_default('embedded_broker_port')}",
                "protocol": "kafka",
                "description": "The embedded broker of `motcua up` (development). In "
                "production: the province's Kafka cluster (MOTCUA_KAFKA_BOOTSTRAP_SERVERS).",
            }
        },
        "channels": _channels(),
        "operations": {
            "publishDossierEvents": _operation(
                "send", "dossierEvents", "Each service's outbox relay publishes its events"
            ),
            "consumeDossierEvents": _operation(
                "receive", "dossierEvents", "Each service applies the events it needs, once"
            ),
            "publishDeadLetters": _operation(
                "send", "deadLetters", "A consumer sets aside a message it cannot apply"
            ),
            "publishInteragencyEvents": _operation(
                "send", "interagencyEvents", "The interagency service publishes the default feed"
            ),
            "publishMinistryEvents": _operation(
                "send", "ministryEvents", "The interagency service publishes a ministry's feed"
            ),
        },
        "components": {"schemas": _schemas(), "messages": _messages()},
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    DOCUMENT.write_text(render(), encoding="utf-8")
    print(f"wrote {DOCUMENT}")


if __name__ == "__main__":
    main()
