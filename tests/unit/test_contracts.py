"""The Kafka event contracts (contracts/events.py) and their exported JSON Schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID

import pytest
from pydantic import ValidationError

from contracts.events import DossierWithdrawn, UndecodableEvent, decode, encode
from devtools.export_schemas import SCHEMA_DIR, schemas


def _withdrawn() -> DossierWithdrawn:
    return DossierWithdrawn(
        event_id=UUID("6f1c2a52-0d1e-4f51-9a3c-2b7d5e8f9a01"),
        dossier_id=UUID("0b4e7f3a-9c2d-4e8f-8a1b-3c5d7e9f1a2b"),
        occurred_at=datetime(2026, 3, 9, 2, 30, tzinfo=UTC),
        producer="intake",
        correlation_id="c1",
        reason="Nộp nhầm thủ tục",
        withdrawn_by="citizen-1",
    )


def _withdrawn_json() -> dict[str, object]:
    data: dict[str, object] = json.loads(encode(_withdrawn()))
    return data


def test_exported_schemas_match_models() -> None:
    expected = schemas()

    exported = {path.name: path.read_text(encoding="utf-8") for path in SCHEMA_DIR.glob("*.json")}

    assert exported == expected, (
        "contracts/schemas/ is out of date with the models; "
        "if the change is intended, run `python -m devtools.export_schemas`"
    )


def test_decode_of_an_encoded_event_returns_an_equal_event() -> None:
    event = _withdrawn()

    decoded = decode(encode(event))

    assert isinstance(decoded, DossierWithdrawn)
    assert decoded == event


def test_decode_ignores_a_well_formed_event_of_an_unknown_type() -> None:
    payload = json.dumps({**_withdrawn_json(), "type": "DossierArchived"}).encode()

    decoded = decode(payload)

    assert decoded is None


def test_decode_of_garbage_bytes_is_undecodable() -> None:
    payload = b"\x00\xffnot json"

    with pytest.raises(UndecodableEvent, match="Invalid JSON"):
        decode(payload)


def test_decode_of_a_known_type_missing_required_fields_names_them() -> None:
    payload = json.dumps({"type": "DossierWithdrawn", "reason": "r"}).encode()

    with pytest.raises(UndecodableEvent, match=r"DossierWithdrawn\.event_id: Field required"):
        decode(payload)


def test_decode_of_a_naive_occurred_at_is_undecodable() -> None:
    payload = json.dumps({**_withdrawn_json(), "occurred_at": "2026-03-09T02:30:00"}).encode()

    with pytest.raises(UndecodableEvent, match=r"occurred_at: Input should have timezone info"):
        decode(payload)


def test_contract_events_are_frozen() -> None:
    event = _withdrawn()

    with pytest.raises(ValidationError, match="frozen"):
        event.reason = "changed"  # type: ignore[misc]
