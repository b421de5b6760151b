"""The shipped procedure catalogue (services/catalogue/data/procedures.json) is valid and usable."""

from __future__ import annotations

import pytest

from motcua.core.errors import NotFound
from services.catalogue.procedures import load_catalogue


def test_shipped_catalogue_loads_with_at_least_six_procedures() -> None:
    catalogue = load_catalogue()

    count = len(catalogue)

    assert count >= 6


def test_catalogue_covers_levels_2_3_4_and_all_tiers() -> None:
    catalogue = load_catalogue()

    levels = {p.level for p in catalogue.search()}
    tiers = {p.tier for p in catalogue.search()}

    assert levels == {2, 3, 4}
    assert tiers == {"province", "district", "commune"}


def test_every_procedure_asks_for_applicant_name_and_citizen_id() -> None:
    catalogue = load_catalogue()

    fields_by_procedure = {p.id: {f.name: f for f in p.fields} for p in catalogue.search()}

    for procedure_id, fields in fields_by_procedure.items():
        assert "ho_ten" in fields, procedure_id
        assert "so_dinh_danh" in fields, procedure_id
        assert fields["so_dinh_danh"].type == "id_number", procedure_id


def test_some_procedure_passes_through_three_or_more_agencies() -> None:
    catalogue = load_catalogue()

    widest = max(len(p.agencies) for p in catalogue.search())

    assert widest >= 3


def test_search_without_diacritics_finds_birth_registration() -> None:
    catalogue = load_catalogue()

    found = catalogue.search(q="dang ky khai sinh")

    assert [p.name for p in found] == ["Đăng ký khai sinh"]


def test_search_for_unknown_words_finds_nothing() -> None:
    catalogue = load_catalogue()

    found = catalogue.search(q="xyz khong ton tai")

    assert found == []


def test_search_by_level_4_returns_only_level_4_procedures() -> None:
    catalogue = load_catalogue()

    found = catalogue.search(level=4)

    assert found
    assert all(p.level == 4 for p in found)


def test_require_gives_the_procedure_or_the_404_applicants_read() -> None:
    catalogue = load_catalogue()
    first = next(iter(catalogue))
    assert catalogue.require(first.id) is first
    with pytest.raises(NotFound, match=r"^no procedure with id 9\.999999$"):
        catalogue.require("9.999999")
