"""What HTTP itself asks of every service, beyond the error body.

A 405 names the methods the resource has (``Allow``, RFC 9110 §15.5.6): all of them,
also where a path has one route per method; every error keeps the one JSON body.
What the code refuses of a request's shape, the OpenAPI document says: the
``Idempotency-Key``'s length, an upload's first byte, how a day is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.registry import NAMES as SERVICE_NAMES
from tests.support.apps import make_app, roles


def methods_by_path(service: str, tmp_path: Path) -> dict[str, set[str]]:
    """What the service's OpenAPI document says each path has."""
    paths = make_app(service, tmp_path).openapi()["paths"]
    return {path: {m.upper() for m in operations} for path, operations in paths.items()}


def allowed(response: Any) -> set[str]:
    return {m.strip() for m in response.headers["Allow"].split(",")}


def concrete(path: str) -> str:
    """The path with each parameter filled (a 405 does not depend on the resource)."""
    return path.replace("{", "").replace("}", "")


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_a_405_names_every_method_of_the_path(service: str, tmp_path: Path) -> None:
    client = TestClient(make_app(service, tmp_path))
    auth = {"Authorization": f"Bearer {roles()['officer']}"}
    for path, methods in methods_by_path(service, tmp_path / "routes").items():
        other = next(m for m in ("DELETE", "PATCH", "PUT", "POST") if m not in methods)
        response = client.request(other, concrete(path), headers=auth)
        assert response.status_code == 405, (other, path, response.text)
        assert allowed(response) == methods, path
        assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_allow_header_of_a_path_with_two_routes_names_both(tmp_path: Path) -> None:
    """``/v1/dossiers`` has POST (submit) and GET (the agency's queue), two routes."""
    response = TestClient(make_app("intake", tmp_path)).delete("/v1/dossiers")
    assert response.status_code == 405
    assert allowed(response) == {"GET", "POST"}


def test_a_401_still_asks_for_a_bearer_token(tmp_path: Path) -> None:
    response = TestClient(make_app("intake", tmp_path)).get("/v1/me/dossiers")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"


def header_parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in operation["parameters"] if p["name"].lower() == name.lower())


def test_the_idempotency_key_declares_the_length_the_code_enforces(tmp_path: Path) -> None:
    app = make_app("intake", tmp_path)
    operation = app.openapi()["paths"]["/v1/dossiers"]["post"]
    parameter = header_parameter(operation, "Idempotency-Key")
    assert parameter["required"] is False
    # A header is absent or a string: no ``null`` alternative to hide the constraints in.
    assert parameter["schema"]["type"] == "string"
    assert parameter["schema"]["minLength"] == 8
    assert parameter["schema"]["maxLength"] == 100

    client = TestClient(app)
    token = roles()["citizen"]
    for key in ("1234567", "x" * 101):
        response = client.post(
            "/v1/dossiers",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
            json={"procedure_id": "none", "form_data": {}},
        )
        assert response.status_code == 422, key
        fields = [d["field"] for d in response.json()["error"]["details"]]
        assert "header.idempotency-key" in fields


UPLOADS = [
    ("intake", "/v1/attachments"),
    ("workflow", "/v1/attachments"),
    ("workflow", "/v1/dossiers/{code}/result/verify"),
]


@pytest.mark.parametrize(("service", "path"), UPLOADS)
def test_an_empty_upload_gets_a_documented_answer(service: str, path: str, tmp_path: Path) -> None:
    app = make_app(service, tmp_path)
    operation = app.openapi()["paths"][path]["post"]
    response = TestClient(app).post(
        concrete(path),
        headers={"Authorization": f"Bearer {roles()['officer']}"},
        files={"file": ("empty.pdf", b"", "application/pdf")},
    )
    assert response.status_code == 422
    assert "422" in operation["responses"]
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"] == [{"field": "body.file", "problem": "the file is empty"}]
    # The document says a file has at least one byte, so that a client (and a fuzzer)
    # knows an empty one is refused, not only that some 4xx may come.
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    schema = app.openapi()["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["file"].get("minLength") == 1


@pytest.mark.parametrize("service", ["intake", "workflow"])
def test_a_file_of_one_byte_is_taken(service: str, tmp_path: Path) -> None:
    response = TestClient(make_app(service, tmp_path)).post(
        "/v1/attachments",
        headers={"Authorization": f"Bearer {roles()['officer']}"},
        files={"file": ("one.txt", b"x", "text/plain")},
    )
    assert response.status_code == 201
    assert response.json()["size"] == 1


def test_a_day_is_written_as_the_document_says(tmp_path: Path) -> None:
    """``format: date``: ``/reconciliations/0`` is no day (pydantic read 1970-01-01)."""
    client = TestClient(make_app("payment", tmp_path))
    admin = {"Authorization": f"Bearer {roles()['admin']}"}
    assert client.get("/v1/reconciliations/2026-01-02", headers=admin).status_code == 200
    for day in ("0", "86400", "2026-01-02T00:00:00"):
        response = client.get(f"/v1/reconciliations/{day}", headers=admin)
        assert response.status_code == 422, day
        assert response.json()["error"]["details"][0]["field"] == "path.day"
