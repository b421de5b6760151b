"""Classes named by configuration, ``package.module:Name``."""

from __future__ import annotations

import pytest

from motcua.core.imports import import_object
from services.portal.adapter import HttpPortal


def test_a_class_named_by_its_module_and_name_is_found() -> None:
    assert import_object("services.portal.adapter:HttpPortal") is HttpPortal


@pytest.mark.parametrize(
    "path", ["services.portal.adapter.HttpPortal", "services.portal.adapter:Nope", "nope:X", ":X"]
)
def test_a_path_that_names_nothing_is_a_clear_error(path: str) -> None:
    with pytest.raises(ValueError, match=repr(path).replace("(", r"\(").replace(".", r"\.")):
        import_object(path)
