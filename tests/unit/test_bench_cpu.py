"""The benchmark's CPU readings from /proc and the per-dossier arithmetic on them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cpu import (
    CLK_TCK,
    MachineCpu,
    ProcessCpu,
    Snapshot,
    machine_cpu,
    ms,
    not_comparable,
    parse_process_stat,
    per_dossier,
    process_cpu,
    snapshot,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

SERVICES = ("intake", "workflow")


def burn(cpu_seconds: float) -> float:
    """Spin until this process has used ``cpu_seconds`` more; the CPU seconds used."""
    began = time.process_time()
    x = 0
    while time.process_time() - began < cpu_seconds:
        x += sum(i * i for i in range(1000))
    assert x > 0
    return time.process_time() - began


def test_the_current_process_cpu_grows_by_what_it_burned() -> None:
    before = process_cpu(os.getpid())
    assert before is not None
    burned = burn(0.3)
    after = process_cpu(os.getpid())
    assert after is not None

    assert (after.pid, after.started) == (before.pid, before.started)
    assert after.alive
    grew = ms(after.ticks - before.ticks)
    # /proc counts in clock ticks: allow a few ticks and a tenth either way.
    slack = 1000 * 3 / CLK_TCK + burned * 100
    assert burned * 1000 - slack <= grew <= burned * 1000 + slack
    assert after.user > before.user  # a pure Python loop is user time


def test_the_machine_busy_time_grows_at_least_by_what_this_process_burned() -> None:
    before = machine_cpu()
    burned = burn(0.3)
    after = machine_cpu()

    assert after.cpus == os.cpu_count()
    assert ms(after.busy - before.busy) >= burned * 1000 * 0.8
    assert after.total > before.total


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() -> None:
    # proc(5): pid (comm) state ppid ... utime(14) stime(15) cutime(16) cstime(17) ...
    # starttime(22); the numbers below are each field's own number, so a shift shows.
    rest = " ".join(str(n) for n in range(4, 45))
    stat = f"4242 (tansu (x) y) S {rest}\n"

    read = parse_process_stat(4242, stat)

    assert read == ProcessCpu(pid=4242, state="S", started=22, user=14, system=15, children=33)


def test_machine_counters_sum_the_cpu_line_and_count_the_cpus(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text(
        "cpu  100 5 20 1000 7 1 2 3 40 0\n"
        "cpu0 50 2 10 500 3 0 1 1 20 0\n"
        "cpu1 50 3 10 500 4 1 1 2 20 0\n"
        "intr 12345\nctxt 999\n"
    )

    read = machine_cpu(tmp_path)

    # guest (40) is already inside user: not added again.
    assert read == MachineCpu(busy=100 + 5 + 20 + 1 + 2, idle=1000 + 7, steal=3, cpus=2)


def test_a_pid_that_is_not_running_reads_as_none() -> None:
    with subprocess.Popen([sys.executable, "-c", "pass"]) as child:
        child.wait()
    taken = snapshot({"gone": child.pid, "never started": None})

    assert taken.processes == {"gone": None, "never started": None}


def proc(pid: int, ticks: int, started: int = 1000, state: str = "S") -> ProcessCpu:
    return ProcessCpu(pid, state, started, user=ticks * 3 // 4, system=ticks // 4, children=0)


def machine(busy: int, idle: int, steal: int = 0) -> MachineCpu:
    return MachineCpu(busy=busy, idle=idle, steal=steal, cpus=2)


T = CLK_TCK  # one second of CPU in ticks


def test_cpu_per_dossier_and_the_totals_on_made_up_samples() -> None:
    before = Snapshot(
        {"intake": proc(10, 4 * T), "workflow": proc(11, 0), "broker": proc(12, 100 * T)},
        machine(busy=50 * T, idle=50 * T),
    )
    after = Snapshot(
        {"intake": proc(10, 6 * T), "workflow": proc(11, 4 * T), "broker": proc(12, 101 * T)},
        machine(busy=58 * T, idle=60 * T, steal=2 * T),
    )

    got = per_dossier(before, after, dossiers=10, seconds=5.0, services=SERVICES)

    # intake 2 s, workflow 4 s, broker 1 s of CPU over 10 dossiers and 5 s.
    assert got["cpu_ms_per_dossier"] == {"intake": 200.0, "workflow": 400.0, "broker": 100.0}
    assert got["cores"] == {"intake": 0.4, "workflow": 0.8, "broker": 0.2}
    assert got["services_total_ms_per_dossier"] == 600.0
    assert got["listed_total_ms_per_dossier"] == 700.0
    assert got["services_total_complete"]
    assert got["listed_total_complete"]
    assert got["machine"] == {
        "cpus": 2,
        "busy_ms_per_dossier": 800.0,  # 8 s busy
        "busy_cores": 1.6,
        "steal_ms_per_dossier": 200.0,
        "busy_share": 8 / 20,  # of 8 busy + 10 idle + 2 stolen
        "listed_share_of_busy": 7 / 8,
    }
    assert got["not_measured"] == {}
    assert "children_cpu_ms_per_dossier" not in got


def test_a_process_restarted_in_the_phase_is_named_and_left_out_of_the_totals() -> None:
    before = Snapshot(
        {
            "intake": proc(10, 4 * T),
            "workflow": proc(11, 9 * T),
            "stats": proc(13, 9 * T),
            "broker": proc(12, 0),
        },
        machine(busy=0, idle=0),
    )
    after = Snapshot(
        {
            "intake": proc(10, 5 * T),
            "workflow": proc(21, 1 * T),  # supervisor restarted it: new pid, counters from 0
            "stats": proc(13, 1 * T, started=5000),  # same pid, reused by a new process
            "broker": None,  # gone
        },
        machine(busy=4 * T, idle=4 * T),
    )

    got = per_dossier(before, after, dossiers=2, seconds=1.0, services=SERVICES)

    assert got["cpu_ms_per_dossier"] == {"intake": 500.0}
    assert set(got["not_measured"]) == {"workflow", "stats", "broker"}
    assert "11 → 21" in got["not_measured"]["workflow"]
    assert "restarted" in got["not_measured"]["stats"]
    assert "gone" in got["not_measured"]["broker"]
    assert got["services_total_ms_per_dossier"] == 500.0
    assert not got["services_total_complete"]
    assert not got["listed_total_complete"]


def test_exited_children_are_reported_apart_from_the_process_own_time() -> None:
    forking = ProcessCpu(10, "S", 1000, user=T, system=0, children=0)
    later = ProcessCpu(10, "S", 1000, user=2 * T, system=0, children=3 * T)

    got = per_dossier(
        Snapshot({"intake": forking}, machine(0, 0)),
        Snapshot({"intake": later}, machine(10 * T, 0)),
        dossiers=1,
        seconds=1.0,
        services=SERVICES,
    )

    assert got["cpu_ms_per_dossier"] == {"intake": 1000.0}
    assert got["children_cpu_ms_per_dossier"] == {"intake": 3000.0}


def test_a_real_child_that_exits_mid_phase_is_not_measured() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    ) as child:
        assert child.stdin is not None
        before = snapshot({"notify": child.pid})
        assert not_comparable(before.processes["notify"], before.processes["notify"]) is None
        child.stdin.close()
        deadline = time.monotonic() + 10
        while (now := process_cpu(child.pid)) is not None and now.alive:  # until a zombie
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.01)
        exited = snapshot({"notify": child.pid})
        child.wait()
    reaped = snapshot({"notify": child.pid})

    assert "exited" in str(not_comparable(before.processes["notify"], exited.processes["notify"]))
    assert "gone" in str(not_comparable(before.processes["notify"], reaped.processes["notify"]))
    got = per_dossier(before, exited, dossiers=1, seconds=1.0, services=("notify",))
    assert got["cpu_ms_per_dossier"] == {}
    assert set(got["not_measured"]) == {"notify"}
