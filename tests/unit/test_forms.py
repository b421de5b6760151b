"""Form and document checks (services/intake/forms.py) against the shipped catalogue.

Procedure 1.001193 is birth registration (đăng ký khai sinh).
"""

from __future__ import annotations

from typing import Any

import pytest

from motcua.core.errors import Invalid
from services.catalogue.procedures import Procedure, load_catalogue
from services.intake.forms import check_documents, check_form

BIRTH_REGISTRATION = "1.001193"
REQUIRED_DOCUMENTS = ["to_khai_dang_ky_khai_sinh", "giay_chung_sinh", "giay_to_tuy_than"]


def _procedure() -> Procedure:
    procedure = load_catalogue().get(BIRTH_REGISTRATION)
    assert procedure is not None
    return procedure


def _valid_form() -> dict[str, Any]:
    return {
        "ho_ten": "NGUYỄN VĂN AN",
        "so_dinh_danh": "001090012345",
        "so_dien_thoai": "0912345678",
        "ho_ten_tre": "NGUYỄN MINH KHÔI",
        "ngay_sinh_tre": "2026-01-05",
        "gioi_tinh_tre": "Nữ",
        "so_ban_sao": "2",
    }


def _problems(error: pytest.ExceptionInfo[Invalid]) -> dict[str, str]:
    return {str(d.get("field", d.get("document"))): str(d["problem"]) for d in error.value.details}


def test_complete_valid_form_is_accepted_with_every_field() -> None:
    procedure, form = _procedure(), _valid_form()

    clean = check_form(procedure, form)

    assert set(clean) == set(form)
    assert clean["so_dinh_danh"] == "001090012345"
    assert clean["ngay_sinh_tre"] == "2026-01-05"


def test_integer_field_given_as_text_is_normalised_to_int() -> None:
    procedure, form = _procedure(), _valid_form() | {"so_ban_sao": "2"}

    clean = check_form(procedure, form)

    assert clean["so_ban_sao"] == 2
    assert isinstance(clean["so_ban_sao"], int)


def test_text_values_are_stripped_of_surrounding_spaces() -> None:
    procedure, form = _procedure(), _valid_form() | {"ho_ten": "  NGUYỄN VĂN AN  "}

    clean = check_form(procedure, form)

    assert clean["ho_ten"] == "NGUYỄN VĂN AN"


def test_optional_field_left_blank_is_left_out() -> None:
    procedure, form = _procedure(), _valid_form() | {"email": "  "}

    clean = check_form(procedure, form)

    assert "email" not in clean


def test_all_form_problems_are_reported_at_once() -> None:
    form = _valid_form() | {"so_dinh_danh": "12345", "so_thich": "bóng đá"}
    del form["ho_ten_tre"]

    with pytest.raises(Invalid) as error:
        check_form(_procedure(), form)

    problems = _problems(error)
    assert set(problems) == {"ho_ten_tre", "so_thich", "so_dinh_danh"}
    assert problems["ho_ten_tre"].startswith("is required")
    assert problems["so_thich"] == "is not a field of this procedure's form"
    assert problems["so_dinh_danh"].startswith("must be the 12-digit")


@pytest.mark.parametrize("typed", ["0912 345 678", "+84 912 345 678", "0912.345.678"])
def test_phone_number_typed_with_separators_is_accepted_without_them(typed: str) -> None:
    form = {**_valid_form(), "so_dien_thoai": typed}

    clean = check_form(_procedure(), form)

    assert clean["so_dien_thoai"] == typed.replace(" ", "").replace(".", "")


def test_date_not_in_iso_format_is_refused() -> None:
    form = _valid_form() | {"ngay_sinh_tre": "05/01/2026"}

    with pytest.raises(Invalid) as error:
        check_form(_procedure(), form)

    assert _problems(error)["ngay_sinh_tre"].startswith("must be a date as YYYY-MM-DD")


def test_impossible_calendar_date_is_refused() -> None:
    form = _valid_form() | {"ngay_sinh_tre": "2026-02-30"}

    with pytest.raises(Invalid) as error:
        check_form(_procedure(), form)

    assert _problems(error)["ngay_sinh_tre"].startswith("must be a date as YYYY-MM-DD")


def test_select_value_outside_the_options_is_refused() -> None:
    form = _valid_form() | {"gioi_tinh_tre": "Khác"}

    with pytest.raises(Invalid) as error:
        check_form(_procedure(), form)

    assert _problems(error)["gioi_tinh_tre"].startswith("must be one of: Nam, Nữ")


def test_integer_below_the_minimum_is_refused() -> None:
    form = _valid_form() | {"so_ban_sao": "-1"}

    with pytest.raises(Invalid) as error:
        check_form(_procedure(), form)

    assert _problems(error)["so_ban_sao"].startswith("must be at least 0")


def test_integer_field_with_a_fraction_is_refused() -> None:
    form = _valid_form() | {"so_ban_sao": "1.5"}

    with pytest.raises(Invalid) as error:
        check_form(_procedure(), form)

    assert _problems(error)["so_ban_sao"].startswith("must be a whole number")


def test_documents_with_every_required_one_are_accepted() -> None:
    document_ids = [*REQUIRED_DOCUMENTS, "van_ban_uy_quyen"]

    check_documents(_procedure(), document_ids)  # fails the test by raising Invalid


def test_missing_required_and_unknown_documents_are_reported_together() -> None:
    document_ids = ["to_khai_dang_ky_khai_sinh", "giay_to_tuy_than", "so_ho_khau"]

    with pytest.raises(Invalid, match="documents are incomplete") as error:
        check_documents(_procedure(), document_ids)

    problems = _problems(error)
    assert set(problems) == {"giay_chung_sinh", "so_ho_khau"}
    assert problems["giay_chung_sinh"].startswith("is required")
    assert problems["so_ho_khau"] == "is not a document of this procedure"
