"""The server's CPU time (bench/cpu.py) is read from /proc: user + system, by process group."""

import os

from bench.cpu import TICKS, group_cpu_seconds, stat_cpu_seconds

# /proc/<pid>/stat of a process whose name has a space and a parenthesis in it
STAT = "4242 (gunicorn: a (w)) S 4200 4200 4200 0 -1 4194560 10 0 0 0 250 50 0 0 20 0 7 0"


def test_group_and_cpu_seconds_are_read_after_the_process_name():
    group, seconds = stat_cpu_seconds(STAT)
    assert group == 4200
    assert seconds == (250 + 50) / TICKS


def test_this_process_group_has_used_some_cpu_and_an_unused_group_none():
    sum(range(2_000_000))  # some CPU, however fast the machine
    assert group_cpu_seconds(os.getpgrp()) > 0
    assert group_cpu_seconds(2**22 + 12345) == 0
