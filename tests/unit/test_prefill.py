"""Prefill from the applicant's account (I-4): every field the catalogue marks as filled
from the account gets the account's value, for each procedure that asks for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from motcua.core.errors import Unauthorized
from motcua.runtime.settings import DEV_JWT_SECRET, Settings
from motcua.web.auth import issue_token, verify_token
from services.catalogue.procedures import ACCOUNT_CLAIMS, FormField, load_catalogue
from services.intake.main import create_app
from tests.support.dossiers import birth_form, citizen, submit_birth

ACCOUNT = {
    "name": "NGUYỄN THỊ LAN",
    "id_number": "001190000001",
    "birthdate": "1990-04-30",
    "address": "Số 12, thôn Đông, xã Yên Bình, huyện Ý Yên, tỉnh Nam Định",
    "phone": "0912000001",
    "email": "lan@example.vn",
}
CATALOGUE = load_catalogue()
# (procedure, field) for every field the shipped catalogue fills from the account.
ACCOUNT_FIELDS = [(p.id, f.name) for p in CATALOGUE for f in p.fields if f.prefill == "account"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    var = tmp_path_factory.mktemp("prefill")
    return TestClient(create_app(Settings(var_dir=var)))


def _prefill(client: TestClient, procedure_id: str, **claims: Any) -> dict[str, Any]:
    response = client.get(
        "/v1/prefill", params={"procedure": procedure_id}, headers=citizen(**claims)
    )
    assert response.status_code == 200, response.text
    values: dict[str, Any] = response.json()
    return values


def test_the_catalogue_fills_date_of_birth_and_address_from_the_account() -> None:
    fields = {name for _, name in ACCOUNT_FIELDS}

    assert {"ngay_sinh", "dia_chi"} <= fields


@pytest.mark.parametrize(("procedure_id", "field"), ACCOUNT_FIELDS)
def test_a_field_marked_for_the_account_is_filled_from_it(
    client: TestClient, procedure_id: str, field: str
) -> None:
    claims = {k: v for k, v in ACCOUNT.items() if k != "name"}  # name: citizen() sets it

    values = _prefill(client, procedure_id, **claims)

    assert values[field] == {"value": ACCOUNT[ACCOUNT_CLAIMS[field]], "source": "account"}


def test_without_the_claim_the_field_is_left_for_the_applicant(client: TestClient) -> None:
    marriage = "1.004873"  # asks for date of birth and place of residence

    values = _prefill(client, marriage)

    assert "ngay_sinh" not in values
    assert "dia_chi" not in values
    assert values["ho_ten"]["source"] == "account"


def test_fields_the_account_does_not_hold_come_from_earlier_dossiers(tmp_path: Path) -> None:
    client = TestClient(create_app(Settings(var_dir=tmp_path)))
    submit_birth(client)

    values = _prefill(client, "1.001193")

    assert values["ho_ten_tre"] == {"value": birth_form()["ho_ten_tre"], "source": "previous"}


def test_a_catalogue_field_for_the_account_that_no_claim_holds_is_refused() -> None:
    with pytest.raises(ValueError, match="no claim of the account holds it"):
        FormField(
            name="nghe_nghiep", label="Nghề nghiệp", type="text", guidance="x", prefill="account"
        )


def test_an_oidc_address_object_gives_its_formatted_text() -> None:
    token = issue_token(
        DEV_JWT_SECRET, sub="c", role="citizen", address={"formatted": ACCOUNT["address"]}
    )

    caller = verify_token(DEV_JWT_SECRET, token)

    assert caller.address == ACCOUNT["address"]


def test_a_token_with_a_malformed_date_of_birth_names_the_claim() -> None:
    token = issue_token(DEV_JWT_SECRET, sub="c", role="citizen", birthdate="30/04/1990")

    with pytest.raises(Unauthorized, match="birthdate"):
        verify_token(DEV_JWT_SECRET, token)
