"""Start and wait for helper processes (localstripe) on free loopback ports."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout}s")


def wait_until(condition: Callable[[], object], timeout: float = 15, interval: float = 0.05):
    """Poll until `condition()` is truthy (work done by the Celery worker) and return it."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@contextmanager
def running_emulator(port: int, state_file: Path | None = None) -> Iterator[subprocess.Popen]:
    """localstripe (through the test shim) on `port`, stopped on exit.

    Its objects live in memory, so every test process has its own and nothing else
    on the machine sees them; with `state_file` they are kept in that file instead
    (read at start, written after each change), as `make run` keeps its own.
    """
    command = ["--port", str(port)]
    command += ["--state-file", str(state_file)] if state_file else ["--from-scratch"]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.localstripe_shim", *command],
        cwd=PROJECT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def stop_group(process: subprocess.Popen, *, term_wait: float = 15) -> None:
    """SIGTERM to the process group `process` leads, SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, term_wait), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
