"""HTTP load with `wrk` (Debian's package): running it and reading what it prints.

Every requests/s figure of the bench is one `wrk` run against the bench's gunicorn:
the same threads, connections and duration for the ceiling and for each page, after
a short warm-up run of the same kind (connections opened, caches filled) whose
figures are thrown away.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field, replace

CEILING_PATH = "/bench/ceiling"  # the bare view (bench/urls.py) every figure is a ratio to
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


class WrkMissing(RuntimeError):
    """wrk is not installed and could not be."""


class WrkOutputError(ValueError):
    """wrk printed something this parser does not understand."""


@dataclass(frozen=True)
class Load:
    """How hard to push: wrk's threads, open connections and seconds per run."""

    threads: int = 2
    connections: int = 16
    duration: float = 8.0
    warmup: float = 2.0


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    requests: int
    seconds: float
    latency_avg_ms: float
    latency_percentiles_ms: dict[int, float] = field(default_factory=dict)
    non_2xx_3xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    output: str = field(default="", repr=False)  # what wrk printed (a script's lines too)
    server_cpu_ms: float | None = None  # the server's CPU time per request, when measured

    @property
    def errors(self) -> int:
        """Requests that did not get a 2xx or 3xx answer, and socket errors."""
        return self.non_2xx_3xx + sum(self.socket_errors.values())


def _ms(value: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value.strip())
    if not found:
        raise WrkOutputError(f"not a duration: {value!r}")
    return float(found.group(1)) * UNITS[found.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """The figures of one `wrk --latency` run, from its standard output."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", output, re.MULTILINE)
    latency = re.search(r"^\s*Latency\s+([\d.]+\w+)\s", output, re.MULTILINE)
    if not (rate and total and latency):
        raise WrkOutputError(f"no requests/s, total or latency in wrk's output:\n{output}")
    percentiles = {
        int(p): _ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)\s*$", output, re.MULTILINE)
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        requests=int(total.group(1)),
        seconds=_ms(total.group(2)) / 1000,
        latency_avg_ms=_ms(latency.group(1)),
        latency_percentiles_ms=percentiles,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=(
            dict(
                zip(
                    ("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True
                )
            )
            if sockets
            else {}
        ),
        output=output,
    )


def ensure_wrk() -> str:
    """The path of `wrk`; installed with apt-get when missing and this user may."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        if not sudo or shutil.which("sudo"):
            print("wrk is missing: apt-get install -y wrk ...", flush=True)
            subprocess.run([*sudo, apt, "install", "-y", "wrk"], check=False)
            found = shutil.which("wrk")
            if found:
                return found
    raise WrkMissing(
        "The bench needs wrk (HTTP load). Install it with `sudo apt-get install wrk` "
        "(Debian, Ubuntu) or `brew install wrk` (macOS), then run `make bench` again."
    )


def wrk_command(
    url: str,
    load: Load,
    *,
    duration: float | None = None,
    headers: dict[str, str] | None = None,
    script: str | None = None,
    script_args: tuple[str, ...] = (),
) -> list[str]:
    command = [
        "wrk",
        *("--threads", str(load.threads), "--connections", str(load.connections)),
        *("--duration", f"{max(1, round(duration or load.duration))}s", "--latency"),
        *("--timeout", "10s"),
    ]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    if script:
        command += ["--script", script]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    return command


def run_wrk(
    url: str,
    load: Load,
    *,
    warm: bool = True,
    cpu: Callable[[], float | None] | None = None,
    **options,
) -> WrkResult:
    """One measured wrk run against `url` (after a warm-up run when `warm`). With `cpu`
    (the server's CPU seconds so far), the server's CPU time per request is measured too."""
    if warm and load.warmup > 0:
        wrk_output(wrk_command(url, load, duration=load.warmup, **options))
    before = cpu() if cpu else None
    result = parse_wrk(wrk_output(wrk_command(url, load, **options)))
    after = cpu() if cpu else None
    if before is not None and after is not None and result.requests:
        result = replace(result, server_cpu_ms=(after - before) * 1000 / result.requests)
    return result


def wrk_output(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout
