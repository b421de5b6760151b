"""The chaos suite's monkey: each service killed its share and no more, the broker once
when it is due (more kills would keep the stack down and the load would never end)."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.chaos import Monkey
from motcua.runtime.settings import Settings
from ops.stack import Child, Stack
from services.registry import NAMES as IMPLEMENTED_SERVICES

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack whose children are sleepers named like the real ones."""
    stack = Stack(Settings(var_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1"), services=())
    names = ("broker", *IMPLEMENTED_SERVICES)
    stack.children = [Child(name, SLEEP, tmp_path / f"{name}.log") for name in names]
    for child in stack.children:
        child.start({})
    yield stack
    stack.stop()


def restart_dead(stack: Stack) -> None:
    for child in stack.children:
        if not child.alive():
            child.start({})


def test_while_the_load_runs_the_least_killed_service_is_killed(stack: Stack) -> None:
    monkey = Monkey(stack, every=0, kills_each=1, rng=random.Random(1))
    for _ in range(3 * len(IMPLEMENTED_SERVICES)):
        monkey.strike()
        restart_dead(stack)

    assert {name: monkey.kills[name] for name in IMPLEMENTED_SERVICES} == dict.fromkeys(
        IMPLEMENTED_SERVICES, 3
    )
    assert monkey.during_load == monkey.kills


def test_after_the_load_each_service_is_killed_its_share_then_left_alone(stack: Stack) -> None:
    monkey = Monkey(stack, every=0, kills_each=2, rng=random.Random(1))
    monkey.loading = False
    for _ in range(30):
        monkey.strike()
        restart_dead(stack)

    assert {name: monkey.kills[name] for name in IMPLEMENTED_SERVICES} == dict.fromkeys(
        IMPLEMENTED_SERVICES, 2
    )
    assert monkey.kills["broker"] == 0  # not due yet
    assert not monkey.done()


def test_the_broker_is_killed_once_when_due(stack: Stack) -> None:
    monkey = Monkey(stack, every=0, kills_each=1, rng=random.Random(1))
    monkey.broker_due = True
    monkey.strike()
    restart_dead(stack)
    for _ in range(10):
        monkey.strike()
        restart_dead(stack)

    assert monkey.kills["broker"] == 1
    assert monkey.done()


def test_the_monkey_goes_on_while_the_load_runs_even_with_every_share_taken(stack: Stack) -> None:
    monkey = Monkey(stack, every=0, kills_each=1, rng=random.Random(1))
    monkey.broker_due = True
    for _ in range(2 + len(IMPLEMENTED_SERVICES)):
        monkey.strike()
        restart_dead(stack)
    assert monkey.done()
    assert monkey.busy()  # the load still runs: kills go on
    monkey.loading = False
    assert not monkey.busy()
