"""The supervisor of ``motcua up``."""

from __future__ import annotations

from pathlib import Path

from motcua.settings import Settings
from motcua.stack import Stack


def test_a_stack_used_only_to_probe_readiness_never_starts_processes(tmp_path: Path) -> None:
    stack = Stack(Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1"))
    for child in stack.children:
        child.backoff = 0.0  # a restart would be due at once

    for _ in range(3):
        stack.supervise_once()

    assert all(child.process is None for child in stack.children)
