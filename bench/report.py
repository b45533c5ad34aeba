"""The bench's one table: figure, measured, ceiling, ratio, target, met?; the machine it
ran on and its load average at the start and at the end; notes and failures.

A figure whose target is a ratio is met when `ratio` reaches it; other figures (query
counts, milliseconds, events/s) carry their own verdict in `met`. `met` is None for a
figure measured for information only.
"""

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    ceiling: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None


@dataclass(frozen=True)
class Machine:
    cpus: int
    model: str
    system: str

    @classmethod
    def here(cls) -> "Machine":
        return cls(os.cpu_count() or 0, cpu_model(), f"{platform.system()} {platform.release()}")


def cpu_model(cpuinfo: str | None = None) -> str:
    """The processor's model name, from /proc/cpuinfo (or `platform` elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "cpu model") and value.strip():
            return value.strip()
    return platform.processor() or "unknown"


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


@dataclass
class Report:
    machine: Machine
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float] | None = None
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def fail(self, what: str) -> None:
        self.failures.append(what)


HEADINGS = ("figure", "measured", "ceiling", "ratio", "target", "met?")


def verdict(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def ratio_met(ratio: float | None, at_least: float) -> bool | None:
    return None if ratio is None else ratio >= at_least


def cells(row: Row) -> tuple[str, ...]:
    ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
    return (row.figure, row.measured, row.ceiling, ratio, row.target, verdict(row.met))


def _load(values: tuple[float, float, float] | None) -> str:
    return "-" if values is None else " ".join(f"{v:.2f}" for v in values)


def header_lines(report: Report) -> list[str]:
    m = report.machine
    return [
        f"Machine: {m.cpus} CPUs, {m.model} ({m.system})",
        f"Load average (1, 5, 15 min): {_load(report.load_start)} at the start, "
        f"{_load(report.load_end)} at the end",
    ]


def render_text(report: Report) -> str:
    """A plain table for the terminal, columns aligned."""
    rows = [HEADINGS, *(cells(r) for r in report.rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADINGS))]
    numeric = {3}  # the ratio column, right-aligned

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(
            value.rjust(widths[i]) if i in numeric else value.ljust(widths[i])
            for i, value in enumerate(row)
        ).rstrip()

    out = [*header_lines(report), "", line(HEADINGS), "  ".join("-" * w for w in widths)]
    out += [line(cells(r)) for r in report.rows]
    out += _tail(report, bullet="  ")
    return "\n".join(out)


def render_markdown(report: Report) -> str:
    """The same table in Markdown, for the README."""

    def line(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in row) + " |"

    out = [f"{text}  " for text in header_lines(report)]
    out += ["", line(HEADINGS), "| " + " | ".join(["---"] * len(HEADINGS)) + " |"]
    out += [line(cells(r)) for r in report.rows]
    out += _tail(report, bullet="- ")
    return "\n".join(out)


def _tail(report: Report, *, bullet: str) -> list[str]:
    out = []
    if report.notes:
        out += ["", "Notes:", *(f"{bullet}{n}" for n in report.notes)]
    if report.failures:
        out += ["", "FAILED:", *(f"{bullet}{f}" for f in report.failures)]
    return out
