"""The admin at 1,000,000 payments: bench/admin_dashboard.py (its own database, built
once with `manage.py generate_revenue_data`, kept for the next run) run as a
subprocess with the stack's production settings; its `--json` figures are read back
and the slowest page's median is compared with 500 ms.

Off by default (`--admin`): generating a million ledger rows takes long. A database
that already holds as many payments is reused unless `--admin-rebuild`.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

from bench.context import Bench
from bench.report import Row
from bench.simulation.stack import PG, ROOT

TARGET_MS = 500.0


def _payments_in(name: str) -> int:
    """Ledger rows in database `name` (created empty if missing)."""
    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{name}"')
            return 0
    with psycopg.connect(dbname=name, autocommit=True, **PG) as conn:
        try:
            return conn.execute("SELECT count(*) FROM payments_payment").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0


def run_admin(bench: Bench) -> None:
    options = bench.options
    name = options["admin_database"]
    payments, members = (
        options["admin_payments"],
        options["admin_members"],
    )
    # The data of an earlier run is kept unless asked to build it again.
    reuse = _payments_in(name) >= payments and not options["admin_rebuild"]
    env = {
        **bench.stack.env,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    out = Path(tempfile.mkdtemp(dir=bench.stack.workdir)) / "admin.json"
    command = [
        sys.executable,
        "-m",
        "bench.admin_dashboard",
        "--force",
        "--json",
        str(out),
        "--payments",
        str(payments),
        "--members",
        str(members),
        *(["--reuse"] if reuse else []),
    ]
    print(
        f"  admin: {' '.join(command[2:])} (database {name}{', data reused' if reuse else ''})",
        flush=True,
    )
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if not out.exists():
        bench.report.fail(
            f"admin: no figures ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
        bench.report.add(
            Row("admin at 1,000,000 payments", "failed", target=f"<= {TARGET_MS:.0f} ms")
        )
        return
    figures = json.loads(out.read_text())
    broken = [f for f in figures if (f.get("status") or 0) >= 500]
    for figure in broken:
        bench.report.fail(f"admin: {figure['page']} answered {figure['status']}")
    timed = [f for f in figures if f.get("median_ms") is not None]
    if not timed:
        bench.report.add(Row("admin", "no page timed", target=f"<= {TARGET_MS:.0f} ms"))
        return
    slowest = max(timed, key=lambda f: f["median_ms"])
    worst = max(timed, key=lambda f: f["worst_ms"] or 0)
    bench.report.add(
        Row(
            f"admin at {payments:,} payments, slowest page",
            f"{slowest['page']}: median {slowest['median_ms']:.0f} ms, {slowest['queries']} "
            f"queries (worst single request: {worst['page']}, {worst['worst_ms']:.0f} ms; "
            f"{len(timed)} pages timed)",
            target=f"<= {TARGET_MS:.0f} ms",
            met=slowest["median_ms"] <= TARGET_MS,
        )
    )
    if reuse:
        bench.report.notes.append(f"admin: the data already in database {name} was reused")
