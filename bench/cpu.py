"""CPU time per process and for the whole machine, from Linux's /proc.

A shared machine is noisy: wall-clock throughput moves with whatever else runs, while
the CPU one dossier costs each process holds from run to run. ``snapshot`` reads
the processes' and the machine's counters; ``per_dossier`` turns two snapshots into CPU
milliseconds per dossier for each process, and flags a process whose pid
changed, that exited or that was restarted in between (its counters started again, so
its delta would be wrong).

Times are the process's own ``utime + stime`` (all its threads). Children's cumulative
times (``cutime + cstime``, children that exited and were waited for) are reported
apart: none of the stack's processes forks workers (uvicorn runs in-process), so they
should stay zero; a delta there means a process did fork.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")  # /proc's clock ticks (USER_HZ) per second
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessCpu:
    """One reading of ``/proc/<pid>/stat``; times in clock ticks."""

    pid: int
    state: str
    started: int  # ticks after boot; with the pid, identifies the process across pid reuse
    user: int
    system: int
    children: int  # cutime + cstime: children that exited and were waited for

    @property
    def ticks(self) -> int:
        return self.user + self.system

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")  # a zombie's counters no longer move


@dataclass(frozen=True)
class MachineCpu:
    """The aggregate ``cpu`` line of ``/proc/stat``; times in clock ticks, all CPUs."""

    busy: int  # user + nice + system + irq + softirq (guest time is inside user)
    idle: int  # idle + iowait
    steal: int  # taken by the hypervisor for other guests
    cpus: int

    @property
    def total(self) -> int:
        return self.busy + self.idle + self.steal


@dataclass(frozen=True)
class Snapshot:
    """The named processes and the machine at one moment."""

    processes: Mapping[str, ProcessCpu | None]  # None: there was no such process
    machine: MachineCpu


def process_cpu(pid: int, proc: Path = PROC) -> ProcessCpu | None:
    """The process's CPU counters, or None when it does not exist (any more)."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return parse_process_stat(pid, text)


def parse_process_stat(pid: int, text: str) -> ProcessCpu:
    # The command name (field 2) is in parentheses and may hold spaces and parentheses:
    # the fields that follow start after the last ')'. proc(5) numbers fields from 1.
    fields = text[text.rindex(")") + 2 :].split()

    def field(number: int) -> int:
        return int(fields[number - 3])

    return ProcessCpu(
        pid=pid,
        state=fields[0],
        started=field(22),
        user=field(14),
        system=field(15),
        children=field(16) + field(17),
    )


def machine_cpu(proc: Path = PROC) -> MachineCpu:
    """The whole machine's CPU counters."""
    lines = (proc / "stat").read_text().splitlines()
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in lines[0].split()[1:9])
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return MachineCpu(
        busy=user + nice + system + irq + softirq,
        idle=idle + iowait,
        steal=steal,
        cpus=cpus,
    )


def snapshot(pids: Mapping[str, int | None], proc: Path = PROC) -> Snapshot:
    """Every named process (None for a pid: not running) and the machine, now."""
    processes = {
        name: process_cpu(pid, proc) if pid is not None else None for name, pid in pids.items()
    }
    return Snapshot(processes, machine_cpu(proc))


def ms(ticks: int) -> float:
    return ticks * 1000 / CLK_TCK


def not_comparable(before: ProcessCpu | None, after: ProcessCpu | None) -> str | None:
    """Why the two readings are not of one process running throughout, or None."""
    if before is None:
        return "not running at the start"
    if after is None:
        return f"pid {before.pid} gone by the end"
    if after.pid != before.pid or after.started != before.started:
        return f"restarted (pid {before.pid} → {after.pid}): its counters started again"
    if not after.alive:
        return f"pid {before.pid} exited during the phase"
    return None


def per_dossier(
    before: Snapshot, after: Snapshot, dossiers: int, seconds: float, services: tuple[str, ...]
) -> dict[str, Any]:
    """CPU ms per dossier for each process between two snapshots, the services'
    total, every listed process's total, and the whole machine's busy time beside them.

    A process that cannot be measured over the whole phase (``not_comparable``) is
    left out of the figures and of the totals and named under ``not_measured``; the
    totals are then marked incomplete rather than silently low.
    """
    spent: dict[str, float] = {}  # ms over the phase
    not_measured: dict[str, str] = {}
    forked: dict[str, float] = {}
    for name, first in before.processes.items():
        last = after.processes.get(name)
        problem = not_comparable(first, last)
        if problem is not None:
            not_measured[name] = problem
            continue
        assert first is not None
        assert last is not None
        spent[name] = ms(last.ticks - first.ticks)
        if last.children != first.children:
            forked[name] = ms(last.children - first.children) / dossiers
    machine_busy = ms(after.machine.busy - before.machine.busy)
    machine_all = ms(after.machine.total - before.machine.total)
    listed = sum(spent.values())
    each = {name: t / dossiers for name, t in spent.items()}
    result: dict[str, Any] = {
        "dossiers": dossiers,
        "seconds": seconds,
        "clock_ticks_per_s": CLK_TCK,
        "cpu_ms_per_dossier": each,
        "cores": {name: t / 1000 / seconds for name, t in spent.items()},
        "services_total_ms_per_dossier": sum(each.get(s, 0.0) for s in services),
        "services_total_complete": all(s in each for s in services),
        "listed_total_ms_per_dossier": listed / dossiers,
        "listed_total_complete": not not_measured,
        "machine": {
            "cpus": after.machine.cpus,
            "busy_ms_per_dossier": machine_busy / dossiers,
            "busy_cores": machine_busy / 1000 / seconds,
            "steal_ms_per_dossier": ms(after.machine.steal - before.machine.steal) / dossiers,
            "busy_share": machine_busy / machine_all if machine_all else None,
            "listed_share_of_busy": listed / machine_busy if machine_busy else None,
        },
        "not_measured": not_measured,
    }
    if forked:
        result["children_cpu_ms_per_dossier"] = forked  # not in the figures above
    return result
