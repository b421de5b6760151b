"""The processes' logging: JSON lines, and no line per outgoing HTTP request."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from motcua.core.logging import configure_logging


@pytest.fixture
def httpx_level() -> Iterator[None]:
    """The root's and httpx's levels put back afterwards (``basicConfig`` sets the root's
    level only once per process, so each test sets it as a first call would)."""
    root, httpx = logging.getLogger(), logging.getLogger("httpx")
    before = root.level, httpx.level
    yield
    root.setLevel(before[0])
    httpx.setLevel(before[1])


@pytest.mark.usefixtures("httpx_level")
def test_httpx_does_not_log_each_request_at_info() -> None:
    logging.getLogger().setLevel(logging.INFO)
    configure_logging("INFO")

    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)


@pytest.mark.usefixtures("httpx_level")
def test_at_debug_httpx_says_everything() -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.NOTSET)
    configure_logging("DEBUG")

    assert logging.getLogger("httpx").isEnabledFor(logging.DEBUG)
