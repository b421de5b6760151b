"""Faults injected into the relay by crash tests: nothing of it runs in production.

The relay (``relay.py``) calls its ``Faults`` at the moment a crash matters most: after
the broker acknowledged a batch and before the position is recorded (the window in
which a batch is published twice). A relay is given none by default, and so does
nothing there. The process's composition root (``ops/serve.py``) gives one only when a
test or development setting asks for it (``faults_of``): ``ExitAfterPublish`` for
``MOTCUA_FAULT_RELAY_EXIT_AFTER_PUBLISH``, which the crash tests set on the process
they kill.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol

import structlog

from motcua.runtime.settings import Settings

log = structlog.get_logger(__name__)

EXIT_CODE = 17  # what the crash tests expect the process to exit with


class Faults(Protocol):
    """Where the relay lets a test break it."""

    def after_publish(self, relay: str) -> None:
        """The broker acknowledged a batch of ``relay``; its position is not recorded yet."""
        ...


class ExitAfterPublish:
    """Ends the process at once, as a crash would: no shutdown hook, no position."""

    def __init__(self, exit_process: Callable[[int], object] = os._exit) -> None:
        self.exit_process = exit_process  # a unit test's stand-in keeps its own process

    def after_publish(self, relay: str) -> None:
        log.warning(
            "fault injection: exiting after publish, before recording position", relay=relay
        )
        self.exit_process(EXIT_CODE)


def faults_of(settings: Settings) -> Faults | None:
    """The faults ``settings`` ask for (test and development settings); None in production."""
    if settings.fault_relay_exit_after_publish:
        return ExitAfterPublish()
    return None
