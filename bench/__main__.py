"""`make bench`: every performance figure of the product's targets, measured on this
machine against a bare Django view, printed as one table.

    python -m bench [--only pages,api,...] [--admin] [--duration 8] [--markdown]

Starts on loopback what it needs (bench/simulation/stack.py: a fresh PostgreSQL
database, a Redis server of its own, gunicorn with production settings plus the
ceiling view (bench/settings.py), a Celery worker with 2 processes on the default
and "emails" queues, the Stripe emulator behind a proxy that times its calls, a
mail server), seeds demo data, measures each section and stops everything.

Sections (bench/<section>.py says how each figure is measured): pages, api,
healthz, give_start, ingest, burst; admin (off unless --admin or --only admin).
Each requests/s figure is a ratio to the ceiling view measured just before it with
the same wrk threads, connections and duration, so it holds on a busy machine.

Exit status: 0 when every figure was measured, whether or not it meets its target
(a measuring tool); 1 if something failed (a page not 200, events lost, a section
that broke); 2 if the bench itself could not run.
"""

import argparse
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.queues import WORKER_QUEUES  # noqa: E402
from bench.report import Machine, Report, load_average, render_markdown, render_text  # noqa: E402
from bench.web import Load, ensure_wrk  # noqa: E402

SECTIONS = ("pages", "api", "healthz", "give_start", "ingest", "burst", "admin")
DEFAULT_SECTIONS = tuple(s for s in SECTIONS if s != "admin")


def _sections(value: str) -> tuple[str, ...]:
    chosen = tuple(s.strip() for s in value.split(",") if s.strip())
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown section {unknown}; choose from {SECTIONS}")
    return chosen


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", type=_sections, help=f"comma-separated sections of {','.join(SECTIONS)}"
    )
    parser.add_argument("--admin", action="store_true", help="also the admin at 1M payments")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--duration", type=float, default=8, help="seconds per wrk run (8)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up (2)")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers (3)")
    parser.add_argument("--burst-events", type=int, default=10_000, help="burst size (10000)")
    parser.add_argument(
        "--burst-stall", type=float, default=120, help="give up when nothing moves for S s"
    )
    parser.add_argument("--give-starts", type=int, default=300, help="timed /give/start (300)")
    parser.add_argument("--admin-payments", type=int, default=1_000_000)
    parser.add_argument("--admin-members", type=int, default=100_000)
    parser.add_argument("--admin-database", default="patronage_bench_admin")
    parser.add_argument("--admin-rebuild", action="store_true", help="generate the data again")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    return parser.parse_args(argv)


def _run_section(name: str, bench) -> None:
    from bench import admin, api, burst, give_start, ingest, pages

    runners = {
        "pages": pages.run_pages,
        "api": api.run_api,
        "healthz": pages.run_healthz,
        "give_start": give_start.run_give_start,
        "ingest": ingest.run_ingest,
        "burst": burst.run_burst,
        "admin": admin.run_admin,
    }
    runners[name](bench)


def chosen_sections(args: argparse.Namespace) -> tuple[str, ...]:
    """`--only`'s sections, else the default ones and, with `--admin`, the admin's."""
    return args.only or (DEFAULT_SECTIONS + (("admin",) if args.admin else ()))


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    sections = chosen_sections(args)
    ensure_wrk()
    from bench.context import Bench, seed_demo_data, setup_django
    from bench.give_start import TimingStripeProxy
    from bench.simulation.stack import Stack

    report = Report(Machine.here(), load_average())
    load = Load(args.threads, args.connections, args.duration, args.warmup)
    stack = Stack(
        seed=1,
        calm=True,
        web_workers=args.web_workers,
        settings_module="bench.settings",
        celery_app="bench.worker",
        api_proxy_class=TimingStripeProxy,
    )
    bench = Bench(stack, load, report, vars(args))
    started = time.monotonic()
    broken = False
    try:
        print(f"Starting the stack (logs in {stack.workdir}) ...", flush=True)
        stack.start()
        setup_django(stack)
        seed_demo_data()
        for name in sections:
            print(f"Measuring {name} ...", flush=True)
            try:
                _run_section(name, bench)
            except Exception as exc:  # one section broken: the others still count
                traceback.print_exc()
                report.fail(f"section {name} broke: {type(exc).__name__}: {exc}")
            stack.check_alive()
    except BaseException as exc:
        traceback.print_exc()
        report.fail(f"the run broke off: {type(exc).__name__}: {exc} (logs in {stack.workdir})")
        broken = True
    finally:
        stack.stop(keep_logs=args.keep_logs or broken or bool(report.failures))
    report.load_end = load_average()
    report.notes += _notes(sections, load, args)
    report.notes.append(f"run took {time.monotonic() - started:.0f} s")
    print()
    print(render_markdown(report) if args.markdown else render_text(report))
    if broken:
        return 2
    return 1 if report.failures else 0


def _notes(sections: tuple[str, ...], load: Load, args: argparse.Namespace) -> list[str]:
    """How the run was made, for the sections that ran."""
    notes = []
    if set(sections) & {"pages", "api", "healthz", "ingest"}:
        notes += [
            f"wrk: {load.threads} threads, {load.connections} connections, {load.duration:g} s "
            f"per run after {load.warmup:g} s of warm-up; gunicorn: {args.web_workers} workers "
            "x 6 threads (gthread), settings bench.settings (config.settings + the ceiling "
            "view), DEBUG=0; the ceiling is measured again before each requests/s figure",
            "ms CPU each: gunicorn's CPU time (its processes' user + system time, bench/cpu.py) "
            "per request over the run; ceiling's / figure's is the ratio CPU alone would "
            "allow, which holds better than requests/s while others use the machine",
        ]
    if "give_start" in sections:
        notes.append(
            "limits raised for the bench's one client machine (bench/simulation/stack.py): "
            "DONATION_RATE_PER_IP and DONATION_RATE_PER_EMAIL 100000/m, NUM_PROXIES=1 "
            "(each /give/start its own X-Forwarded-For)"
        )
    if "burst" in sections:
        notes.append(
            "burst: one worker, 2 processes, consuming the events' queue and the emails "
            f"queue ({','.join(WORKER_QUEUES)}); production runs a worker per queue"
        )
    return notes


if __name__ == "__main__":
    sys.exit(main())
