"""The AsyncAPI document of every topic (docs/asyncapi.json).

The official AsyncAPI 3.0.0 JSON Schema is vendored in ``tests/data/`` from the npm
package ``@asyncapi/specs`` 6.11.1 (``schemas/3.0.0.json``, Apache-2.0), so the check
runs offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from contracts.asyncapi import DOCUMENT, document, render
from contracts.events import EVENT_TYPES
from contracts.interagency import INTERAGENCY_EVENT_TYPES
from motcua.runtime.settings import Settings
from services.registry import CONSUMERS

ASYNCAPI_3_0_0 = Path(__file__).parent.parent / "data" / "asyncapi-3.0.0.schema.json"


def test_the_committed_document_is_the_generated_one() -> None:
    committed = DOCUMENT.read_text(encoding="utf-8")

    assert committed == render(), (
        "docs/asyncapi.json is out of date with the contracts; "
        "if the change is intended, run `make schemas` (python -m contracts.asyncapi)"
    )


def test_the_document_is_valid_asyncapi_3() -> None:
    schema = json.loads(ASYNCAPI_3_0_0.read_text(encoding="utf-8"))

    errors = [e.message[:200] for e in jsonschema.Draft7Validator(schema).iter_errors(document())]

    assert errors == []


def test_every_contract_event_is_a_message_of_its_topic() -> None:
    channels = document()["channels"]

    assert set(channels["dossierEvents"]["messages"]) == set(EVENT_TYPES)
    assert set(channels["interagencyEvents"]["messages"]) == set(INTERAGENCY_EVENT_TYPES)
    assert set(channels["ministryEvents"]["messages"]) == set(INTERAGENCY_EVENT_TYPES)
    assert set(channels["deadLetters"]["messages"]) == {"DeadLetter"}


def test_addresses_are_the_topics_the_services_use() -> None:
    s, channels = Settings(), document()["channels"]

    assert channels["dossierEvents"]["address"] == s.dossier_topic
    assert channels["interagencyEvents"]["address"] == s.interagency_topic
    assert channels["ministryEvents"]["address"] == f"{s.interagency_topic}.{{ministry}}"
    assert channels["ministryEvents"]["parameters"]["ministry"]["examples"] == ["bca", "btnmt"]
    assert channels["deadLetters"]["address"] == s.dlq_topic("{service}")
    assert channels["deadLetters"]["parameters"]["service"]["enum"] == list(CONSUMERS)


def test_messages_name_their_key_and_headers() -> None:
    messages = document()["components"]["messages"]

    started = messages["StepStarted"]
    assert started["bindings"]["kafka"]["key"]["format"] == "uuid"
    assert started["headers"] == {"$ref": "#/components/schemas/DossierEventHeaders"}
    assert messages["InteragencyStepStarted"]["headers"]["$ref"].endswith("/InteragencyHeaders")
    dlq = document()["components"]["schemas"]["DeadLetterHeaders"]
    assert {"dlq-reason", "dlq-source", "dlq-consumer", "dlq-at"} <= set(dlq["properties"])


def test_every_reference_resolves_inside_the_document() -> None:
    doc = document()

    broken = [ref for ref in _refs(doc) if _resolve(doc, ref) is None]

    assert broken == []


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
