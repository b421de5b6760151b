"""The AsyncAPI 3.0 document of every topic motcua uses, written to ``docs/asyncapi.json``.

FastStream generates it from the brokers the services run on. Each service of the
registry is built as ``python -m ops.serve`` builds it (``create_app``: nothing started,
nothing connected), and the brokers of its workers, with the publishers its relays
declare (``motcua/runtime/workers.py``) and its consumer's subscriber
(``motcua/runtime/subscription.py``), go to FastStream's ``AsyncAPI`` factory. Each
publisher and subscriber declares a title, a description and its messages: the
contract events it publishes, or those its handlers apply. So the document follows the
code: a publisher, a subscriber or an event type added there appears here, and a test
fails until the committed file is generated again.

FastStream describes each publisher and subscriber on its own: one channel and one
message each, a message that is the union of its events, and nothing of what our records
carry beside the payload. ``complete`` adds, in small explicit steps, what it cannot
express: one channel per topic, the ministries' topics as one channel with the ministry
as a parameter, a message per event type, the headers and the key of the records, the
topics' partitions and retention, and the dead-letter topics, which aiokafka writes
(not FastStream: ``docs/architecture.md`` §4).

Run ``python -m devtools.asyncapi`` (``make schemas`` does) after a deliberate change.
JSON rather than YAML: every AsyncAPI tool reads both, and JSON needs no dependency.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel

from contracts.events import EVENT_TYPES
from contracts.interagency import INTERAGENCY_EVENT_TYPES
from motcua.runtime.consumer import DLQ_KEEP_BYTES, HANDLER_ATTEMPTS
from motcua.runtime.kafka import EVENT_TOPIC_CONFIG
from motcua.runtime.settings import Settings
from motcua.runtime.workers import ConsumerWorker, RelayWorker
from services.registry import SERVICES

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "asyncapi.json"
# The version of the Kafka bindings FastStream writes; what we add uses the same.
KAFKA = "0.4.0"
SCHEMAS = "#/components/schemas"
MESSAGES = "#/components/messages"

TITLE, VERSION = "motcua events", "1.0.0"
DESCRIPTION = (
    "The Kafka topics of motcua, the event-sourced backend of a provincial single-window "
    "public-service system. Every message is a JSON contract event (contracts/, schemas in "
    "contracts/schemas/) keyed by the dossier id. Ministries: read "
    "docs/ministry-subscription.md."
)

KEY = {
    "type": "string",
    "format": "uuid",
    "description": "The dossier id: a dossier's events are on one partition, in order",
}

Worker = RelayWorker | ConsumerWorker


@contextmanager
def default_settings() -> Iterator[Settings]:
    """The settings' defaults with a scratch directory for the stores, whatever the
    environment says: the document is the same everywhere.

    The shared ``Settings`` alone could be built from defaults without the environment,
    but ``create_app(settings)`` takes only those: each service's root reads its own
    class (``PaymentSettings``, ``NotifySettings``, ``InteragencySettings``) from the
    environment while it builds the app, and some of those decide what is declared (the
    ministries' feeds). So the ``MOTCUA_*`` variables are set aside meanwhile, and put
    back after, in this one-shot generator and its tests only."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("MOTCUA_")}
    try:
        with tempfile.TemporaryDirectory(prefix="motcua-asyncapi-") as scratch:
            yield Settings(var_dir=Path(scratch))
    finally:
        os.environ.update(saved)


def workers(settings: Settings) -> dict[str, list[Worker]]:
    """Each service's workers that run a FastStream broker, as its ``create_app`` built
    them (the relays and the consumer; not the periodic jobs)."""
    return {
        entry.name: [
            w
            for w in entry.root.create_app(settings).state.workers
            if isinstance(w, RelayWorker | ConsumerWorker)
        ]
        for entry in SERVICES
    }


def faststream_document(brokers: Sequence[KafkaBroker]) -> dict[str, Any]:
    """FastStream's AsyncAPI 3.0.0 document of ``brokers``, as it writes it."""
    factory = AsyncAPI(
        *brokers, title=TITLE, version=VERSION, description=DESCRIPTION, schema_version="3.0.0"
    )
    with warnings.catch_warnings():
        # Two publishers or subscribers of one title would overwrite each other's channel
        # with only a warning: here that fails.
        warnings.simplefilter("error", RuntimeWarning)
        spec: dict[str, Any] = factory.to_specification().to_jsonable()
    return spec


def document() -> dict[str, Any]:
    """The document: FastStream's, of every service's brokers, then completed."""
    with default_settings() as settings:
        declared = [w for ws in workers(settings).values() for w in ws]
        spec = faststream_document([w.declared() for w in declared])
        consumers = [w.name for w in declared if isinstance(w, ConsumerWorker)]
        return complete(spec, settings, consumers)


# --- What FastStream cannot express, added to its document -------------------------------


@dataclass(frozen=True)
class Topic:
    """A channel of the completed document: one topic, or a family of them."""

    id: str
    title: str
    description: str
    headers: str  # the component schema of its records' headers
    events: Mapping[str, type[BaseModel]]  # the contract events it may carry


DOSSIER_EVENTS = Topic(
    "dossierEvents",
    "Dossier events",
    "Every contract event of every service, keyed by dossier id. Kept forever: it is the "
    "audit trail and the source of replays.",
    "DossierEventHeaders",
    EVENT_TYPES,
)
INTERAGENCY_EVENTS = Topic(
    "interagencyEvents",
    "Inter-agency events (no personal data)",
    "Curated progress of the dossiers whose process involves several agencies or that a "
    "ministry receives. The optional personal fields are always null here. See "
    "docs/ministry-subscription.md.",
    "InteragencyHeaders",
    INTERAGENCY_EVENT_TYPES,
)
MINISTRY_EVENTS = Topic(
    "ministryEvents",
    "One ministry's inter-agency events",
    "The same events, for the dossiers this ministry receives, with the extra fields its "
    "configuration allows (services/interagency/data/ministries.json).",
    "InteragencyHeaders",
    INTERAGENCY_EVENT_TYPES,
)
DEAD_LETTERS = Topic(
    "deadLetters",
    "Dead letters of one consumer",
    "Messages a service's consumer could not decode or apply after retries; its position "
    "moved on, so nothing crash-loops and nothing is dropped silently.",
    "DeadLetterHeaders",
    {},
)


def complete(spec: dict[str, Any], settings: Settings, consumers: Sequence[str]) -> dict[str, Any]:
    """FastStream's document ``spec`` with what it cannot express added (see each step);
    ``consumers`` are the services whose consumer has a dead-letter topic."""
    doc = copy.deepcopy(spec)
    schemas: dict[str, Any] = doc["components"]["schemas"]
    declared: dict[str, Any] = doc["components"].pop("messages")
    endpoints: dict[str, Any] = doc.pop("channels")
    channels: dict[str, dict[str, Any]] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    ministries: set[str] = set()

    # FastStream writes a channel per publisher or subscriber, so one topic has as many
    # channels as services using it. A reader wants one channel per topic: the endpoints'
    # channels are merged by address, and each operation (FastStream's, one per endpoint)
    # points to its topic's channel and takes its endpoint's description.
    for key, operation in sorted(doc.pop("operations").items()):
        endpoint = endpoints[_name(operation["channel"])]
        topic, ministry = _topic_of(endpoint["address"], settings)
        address = endpoint["address"]
        if ministry is not None:  # one channel for every ministry's topic
            ministries.add(ministry)
            address = f"{settings.interagency_topic}.{{ministry}}"
        channel = channels.setdefault(topic.id, _channel(topic, address, endpoint, settings))
        events = []
        for ref in operation["messages"]:
            message = declared[_name(endpoint["messages"][_name(ref)])]
            # FastStream writes one message per endpoint, the union of what it declares;
            # each event type becomes a message of its own, with its headers and key.
            for name in _events(message, schemas):
                if name not in topic.events:
                    raise ValueError(f"{key} declares {name}, not an event of {address}")
                messages.setdefault(name, _message(name, schemas[name], topic, message))
                channel["messages"][name] = {"$ref": f"{MESSAGES}/{name}"}
                events.append(name)
        operations[key] = {
            "action": operation["action"],
            "channel": {"$ref": f"#/channels/{topic.id}"},
            **({"description": endpoint["description"]} if "description" in endpoint else {}),
            "messages": [{"$ref": f"#/channels/{topic.id}/messages/{n}"} for n in events],
        }
    order = (DOSSIER_EVENTS, INTERAGENCY_EVENTS, MINISTRY_EVENTS)
    channels = {t.id: channels[t.id] for t in order if t.id in channels}
    for channel in channels.values():
        channel["messages"] = dict(sorted(channel["messages"].items()))
    if MINISTRY_EVENTS.id in channels:
        # The ministries' topics differ only by the ministry's code: one channel with the
        # code as a parameter, the configured ministries as its examples.
        channels[MINISTRY_EVENTS.id]["parameters"] = {
            "ministry": {
                "description": "The ministry's code in the configuration",
                "examples": sorted(ministries),
            }
        }

    # The dead-letter topics are written by aiokafka's producer (it keeps the original
    # headers byte for byte), so FastStream knows nothing of them: their channel is built
    # like the others', on the same servers.
    dlq = settings.dlq_topic("{service}")
    channels[DEAD_LETTERS.id] = {
        **_channel(DEAD_LETTERS, dlq, channels[DOSSIER_EVENTS.id], settings),
        "parameters": {
            "service": {"enum": list(consumers), "description": "The consuming service"}
        },
        "messages": {"DeadLetter": {"$ref": f"{MESSAGES}/DeadLetter"}},
    }
    messages["DeadLetter"] = DEAD_LETTER
    operations["dead-letters"] = {
        "action": "send",
        "channel": {"$ref": f"#/channels/{DEAD_LETTERS.id}"},
        "description": "A consumer sets aside a record it cannot apply (oversized, "
        f"undecodable, or its handler failed {HANDLER_ATTEMPTS} times) and moves on",
        "messages": [{"$ref": f"#/channels/{DEAD_LETTERS.id}/messages/DeadLetter"}],
    }

    # Our records' headers: FastStream's messages have no headers schema.
    schemas["DossierEventHeaders"] = _headers("The service that published the event")
    schemas["InteragencyHeaders"] = _headers(
        "`interagency` on the default topic, `interagency.<ministry>` on a ministry's"
    )
    schemas["DeadLetterHeaders"] = DEAD_LETTER_HEADERS

    # FastStream's server is the brokers' address; which broker that is, it cannot know.
    for server in doc["servers"].values():
        server["description"] = (
            "The embedded broker of `motcua up` (development). In production: the "
            "province's Kafka cluster (MOTCUA_KAFKA_BOOTSTRAP_SERVERS)."
        )
    # In the usual order of an AsyncAPI document; the components sorted by name, since
    # FastStream keeps a broker's publishers in a WeakSet, whose order varies.
    components = doc.pop("components")
    return {
        "asyncapi": doc.pop("asyncapi"),
        **doc,
        "channels": channels,
        "operations": operations,
        "components": {
            **components,
            "schemas": dict(sorted(schemas.items())),
            "messages": dict(sorted(messages.items())),
        },
    }


def _name(ref: dict[str, str]) -> str:
    """The last part of a reference: FastStream's names are URL-quoted there."""
    return unquote(ref["$ref"].rpartition("/")[2])


def _topic_of(address: str, settings: Settings) -> tuple[Topic, str | None]:
    """The channel a topic belongs to (and the ministry of a ministry's topic)."""
    if address == settings.dossier_topic:
        return DOSSIER_EVENTS, None
    if address == settings.interagency_topic:
        return INTERAGENCY_EVENTS, None
    if address.startswith(f"{settings.interagency_topic}."):
        return MINISTRY_EVENTS, address.removeprefix(f"{settings.interagency_topic}.")
    raise ValueError(f"topic {address!r} is declared but not described in devtools/asyncapi.py")


def _channel(
    topic: Topic, address: str, endpoint: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The channel of ``topic`` at ``address``, on the servers and with the Kafka binding
    of the channel FastStream wrote for one of its endpoints."""
    binding = dict(endpoint["bindings"]["kafka"])
    if "{" in address:  # a family of topics, by a parameter: no one topic name
        del binding["topic"]
    # FastStream leaves the partitions out; the topics are created by us, with these
    # partitions and retention (kafka.ensure_topics), not by FastStream.
    binding |= {
        "partitions": settings.topic_partitions,
        "topicConfiguration": {k: int(v) for k, v in EVENT_TOPIC_CONFIG.items()},
    }
    return {
        "address": address,
        "title": topic.title,
        "description": topic.description,
        "servers": endpoint["servers"],
        "messages": {},
        "bindings": {"kafka": dict(sorted(binding.items()))},
    }


def _events(message: dict[str, Any], schemas: dict[str, Any]) -> list[str]:
    """The contract events of a message of FastStream's, by schema name.

    A publisher's message is its declared schema: one event, or the union of several
    (``oneOf``). A batch subscriber's is the list its handler takes, whose items are one
    event each. The schema FastStream wrote for a union or a list is dropped: the events
    become messages of their own.
    """
    name = _name(message["payload"])
    node = schemas[name]
    if node.get("type") == "object":
        return [name]  # one event: the payload is its model's own schema
    del schemas[name]
    if node.get("type") == "array":
        node = node["items"]
    refs = node.get("oneOf", [node])
    if not all("$ref" in r for r in refs):
        raise ValueError(f"{name} declares no contract event: {node}")
    return [_name(r) for r in refs]


def _message(name: str, schema: dict[str, Any], topic: Topic, declared: Any) -> dict[str, Any]:
    """One event type as a message: its payload (FastStream's schema of the model), and
    what FastStream does not write: its summary, headers and key."""
    description = str(schema.get("description", "")).strip()
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "contentType": "application/json",
        "correlationId": declared["correlationId"],
        "headers": {"$ref": f"{SCHEMAS}/{topic.headers}"},
        "payload": {"$ref": f"{SCHEMAS}/{name}"},
        "bindings": {"kafka": {"key": KEY, "bindingVersion": KAFKA}},
    }
    if description:
        message["summary"] = description.splitlines()[0]
        if "\n" in description:
            message["description"] = description
    return message


def _headers(producer: str) -> dict[str, Any]:
    """The headers a relay sets on each record (``relay.py``, ``publishing.py``)."""
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
            "traceparent": {
                "type": "string",
                "description": "W3C trace context the event was created in, if traced",
            },
            "tracestate": {"type": "string", "description": "W3C trace state, with it"},
        },
        "required": ["producer", "position", "type"],
    }


DEAD_LETTER_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "The original message's headers, plus these",
    "properties": {
        "dlq-reason": {
            "type": "string",
            "description": "Why: 'oversized: …', 'undecodable: …' or 'handler failed: …' "
            "(at most 4000 bytes)",
        },
        "dlq-source": {
            "type": "string",
            "pattern": "^.+/[0-9]+/[0-9]+$",
            "description": "<topic>/<partition>/<offset> of the original message",
        },
        "dlq-consumer": {"type": "string", "description": "The consumer (service) that gave up"},
        "dlq-at": {"type": "string", "description": "When, in Unix seconds (a decimal)"},
        "dlq-truncated-from": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": f"The original value's size in bytes, when it was cut to "
            f"{DLQ_KEEP_BYTES}",
        },
    },
    "required": ["dlq-reason", "dlq-source", "dlq-consumer", "dlq-at"],
}

DEAD_LETTER: dict[str, Any] = {
    "name": "DeadLetter",
    "title": "A message a consumer could not apply",
    "summary": "The original message, unchanged, with the reason in its headers",
    "contentType": "application/octet-stream",
    "headers": {"$ref": f"{SCHEMAS}/DeadLetterHeaders"},
    "payload": {
        "description": "The original value, byte for byte (it may not be JSON), cut to "
        f"{DLQ_KEEP_BYTES} bytes if it was longer"
    },
    "bindings": {
        "kafka": {
            "key": {"type": "string", "description": "The original message's key"},
            "bindingVersion": KAFKA,
        }
    },
}


def render(doc: dict[str, Any] | None = None) -> str:
    return json.dumps(doc or document(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    DOCUMENT.write_text(render(), encoding="utf-8")
    print(f"wrote {DOCUMENT}")


if __name__ == "__main__":
    main()
