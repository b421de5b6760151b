"""What a setting names as ``package.module:Name``: a class plugged in by configuration
(another payment gateway, portal adapter or postal operator) or a settings class."""

from __future__ import annotations

import importlib
from typing import Any


def import_object(path: str) -> Any:
    """The object ``path`` names, ``package.module:Name``; a clear error otherwise."""
    module_name, colon, name = path.partition(":")
    if not colon or not module_name or not name:
        raise ValueError(f"{path!r} is not of the form package.module:Name")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"{path!r} cannot be imported: {error}") from None
