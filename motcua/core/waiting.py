"""Waiting for what the services do asynchronously: the demo's and the tests' one helper."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(probe: Callable[[], Any], what: str = "the condition", timeout: float = 30.0) -> Any:
    """The first truthy value of ``probe``, polled every 0.2 s; ``TimeoutError`` after
    ``timeout`` seconds, naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")
