"""The pages a reader opens from an article (GET /give/, /join/, /gift/) and /healthz,
each as requests/s relative to the bare ceiling view measured just before it.

Anonymous readers, no cookies: one `wrk` run per page (bench/web.py), the ceiling run
right before it with the same threads, connections and duration. The queries per
request are counted separately in-process (bench/queries.py) and shown beside.
"""

from bench.context import Bench
from bench.queries import queries_for
from bench.report import Row

PAGES = ("/give/", "/join/", "/gift/")
PAGES_TARGET = 0.30
HEALTHZ_TARGET = 0.50  # "cheap enough for a load balancer polling every second"


def _queries_note(bench: Bench, path: str) -> str:
    status, queries = queries_for(path)
    if status != 200:
        bench.report.fail(f"GET {path} in-process answered {status}")
    return f"{queries} {'query' if queries == 1 else 'queries'}"


def run_pages(bench: Bench) -> None:
    for path in PAGES:
        if not bench.expect_ok(path):
            bench.report.add(Row(f"GET {path}", "failed", target=f">= {PAGES_TARGET:.2f}"))
            continue
        bench.against_ceiling(
            f"GET {path} (anonymous)",
            lambda path=path: bench.wrk(path),
            at_least=PAGES_TARGET,
            extra=_queries_note(bench, path),
        )


def run_healthz(bench: Bench) -> None:
    if not bench.expect_ok("/healthz"):
        bench.report.add(Row("GET /healthz", "failed", target=f">= {HEALTHZ_TARGET:.2f}"))
        return
    bench.against_ceiling(
        "GET /healthz",
        lambda: bench.wrk("/healthz"),
        at_least=HEALTHZ_TARGET,
        extra=_queries_note(bench, "/healthz"),
    )
