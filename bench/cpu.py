"""CPU time the server spent: user + system time of every process in gunicorn's process
group (the master and its workers), read from /proc. A figure that holds better than
requests/s on a machine others are using: the CPU a request costs does not depend on
how much of the CPU the server was given."""

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def stat_cpu_seconds(stat: str) -> tuple[int, float]:
    """(process group, user + system seconds) from one /proc/<pid>/stat line."""
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    # fields[0] is the state: pgrp is field 5 of stat(5), utime 14, stime 15
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / TICKS


def group_cpu_seconds(pgid: int) -> float | None:
    """CPU seconds used so far by the live processes of process group `pgid`; None where
    /proc is not there."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    total = 0.0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            group, seconds = stat_cpu_seconds((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if group == pgid:
            total += seconds
    return total
