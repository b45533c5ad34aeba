"""What every bench section shares: the running stack, the load wrk applies, the
report being filled, and the ceiling measured right before each figure."""

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from bench.cpu import group_cpu_seconds
from bench.report import Report, Row, ratio_met
from bench.simulation.stack import Stack
from bench.web import CEILING_PATH, Load, WrkResult, run_wrk


@dataclass
class Bench:
    stack: Stack
    load: Load
    report: Report
    options: dict = field(default_factory=dict)
    ceilings: list[float] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.stack.site + path

    def server_cpu(self) -> float | None:
        """CPU seconds gunicorn (master and workers) has used so far."""
        return group_cpu_seconds(self.stack.processes["web"].pid)

    def wrk(self, path: str, **options) -> WrkResult:
        """A wrk run against `path` with the bench's load, the server's CPU measured."""
        return run_wrk(self.url(path), self.load, cpu=self.server_cpu, **options)

    def ceiling(self) -> WrkResult:
        """The bare view's requests/s, measured now (each figure is paired with its own)."""
        result = self.wrk(CEILING_PATH)
        if result.errors:
            self.report.fail(f"the ceiling view: {result.errors} errors under load")
        self.ceilings.append(result.requests_per_second)
        return result

    def expect_ok(self, path: str, *, headers: dict[str, str] | None = None) -> bool:
        """One request before the load: it must answer 200 (else the figure is a failure)."""
        response = requests.get(
            self.url(path), headers=headers or {}, timeout=30, allow_redirects=False
        )
        if response.status_code != 200:
            self.report.fail(f"GET {path} answered {response.status_code}, not 200")
            return False
        return True

    def against_ceiling(
        self,
        figure: str,
        measure: Callable[[], WrkResult],
        *,
        at_least: float,
        extra: str = "",
        target: str = "",
        met: Callable[[bool | None], bool | None] = lambda met: met,
    ) -> float:
        """Measure the ceiling, then the figure; add the row; return the ratio."""
        ceiling = self.ceiling()
        result = measure()
        if result.errors:
            self.report.fail(f"{figure}: {result.errors} non-2xx/3xx answers or socket errors")
        ratio = result.requests_per_second / ceiling.requests_per_second
        p50 = result.latency_percentiles_ms.get(50, result.latency_avg_ms)
        measured = f"{_rate(result)}, p50 {p50:.1f} ms"
        self.report.add(
            Row(
                figure,
                measured + (f", {extra}" if extra else ""),
                _rate(ceiling),
                ratio,
                target or f">= {at_least:.2f}",
                met(ratio_met(ratio, at_least)),
            )
        )
        return ratio


def _rate(result: WrkResult) -> str:
    """Requests/s, and the server's CPU per request when measured."""
    cpu = "" if result.server_cpu_ms is None else f" ({result.server_cpu_ms:.2f} ms CPU each)"
    return f"{result.requests_per_second:,.0f} req/s{cpu}"


def setup_django(stack: Stack) -> None:
    """This process reads and writes the stack's database with the site's settings (the
    bench prepares data and counts queries in-process; the simulation checks the books)."""
    os.environ.update(stack.env)
    import django

    django.setup()


def seed_demo_data() -> None:
    """Levels, suggested amounts, currencies and articles: demo_data without a ledger (the
    simulation checks the books against the emulator: no invented ledger rows)."""
    from django.core.management import call_command

    with open(os.devnull, "w") as quiet:
        call_command("demo_data", "--no-ledger", stdout=quiet)
