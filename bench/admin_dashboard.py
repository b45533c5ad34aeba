"""Times every admin page staff use to review revenue, on a large data set.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/patronage_bench \\
        python -m bench.admin_dashboard --payments 1000000 --members 100000

Builds the data with `manage.py generate_revenue_data` (replacing what an earlier run
generated; `--reuse` keeps what is there), signs in a superuser with Django's test
client, in this process, and requests each page several times: the admin index, the
revenue dashboard per period, currency and grouping, every big list page plain,
filtered and searched (by email address, Stripe id and name), and the CSV export of the
whole ledger (time to first byte and total). Prints a table of median and worst times,
the median CPU time (this process's and, when PostgreSQL runs on this machine, its
backend's: what a busy machine does not inflate) and the number of SQL queries per
page, and flags pages slower than 500 ms. `--json PATH` also writes the figures as a
list of {page, median_ms, worst_ms, queries, status, cpu_ms}. A page or filter the
admin does not have answers 404, or 302 to `?e=1` (Django's "unknown filter"): it is
reported, not timed. Exits 1 if a page failed (500) or was slow. The database is left
as it is, to run it again with --reuse.
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/admin_dashboard.py` too
    sys.path.insert(0, str(ROOT))

from bench.cpu import stat_cpu_seconds  # noqa: E402 (after the path is set)

BENCH_EMAIL = "bench-admin@example.org"
SLOW_MS = 500


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1_000_000, help="ledger rows")
    parser.add_argument("--members", type=int, default=100_000, help="memberships")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed")
    parser.add_argument("--reuse", action="store_true", help="keep the data already there")
    parser.add_argument("--runs", type=int, default=5, help="timed requests per page")
    parser.add_argument("--only", help="time only pages whose label contains this")
    parser.add_argument(
        "--show-queries",
        type=int,
        default=0,
        metavar="N",
        help="print each page's N slowest SQL queries (to EXPLAIN them)",
    )
    parser.add_argument("--no-export", action="store_true", help="skip the CSV export")
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write the figures as JSON: [{page, median_ms, worst_ms, queries, status}]",
    )
    parser.add_argument("--force", action="store_true", help="let the generator run with DEBUG off")
    return parser.parse_args(argv)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _build(args: argparse.Namespace) -> None:
    from django.core.management import call_command

    started = time.monotonic()
    call_command(
        "generate_revenue_data",
        payments=args.payments,
        members=args.members,
        seed=args.seed,
        clear=True,
        force=args.force,
    )
    print(f"Data built in {time.monotonic() - started:.0f} s\n")


def _superuser():
    from members.models import User

    user, _ = User.objects.get_or_create(
        email=BENCH_EMAIL, defaults={"is_staff": True, "is_superuser": True}
    )
    if not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    return user


def _pages() -> list[tuple[str, str]]:
    """(label, address) of every page timed, with filters drawn from the data."""
    from django.db.models import Count
    from django.utils import timezone

    from payments.models import Donor, Payment

    today = timezone.localdate()
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    three_years_ago = today - timedelta(days=3 * 365)
    slug = (
        Payment.objects.exclude(article_slug="")
        .filter(paid_at__gte=timezone.now() - timedelta(days=90))
        .values_list("article_slug")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("article_slug", flat=True)
        .first()
    ) or "no-article"
    email = (
        Donor.objects.filter(user__isnull=False, stripe_customer_id__startswith="cus_gen")
        .values_list("email", flat=True)
        .first()
    ) or BENCH_EMAIL

    pages = [("admin index", "/admin/")]
    periods = [
        ("this_month", {"period": "this_month"}),
        ("last_month", {"period": "last_month"}),
        ("this_year", {"period": "this_year"}),
        (
            "3 years",
            {"period": "custom", "start": three_years_ago.isoformat(), "end": today.isoformat()},
        ),
    ]
    for name, params in periods:
        for currency in ("USD", "EUR"):
            query = urlencode({**params, "currency": currency})
            pages.append((f"revenue {name} {currency}", f"/admin/revenue/?{query}"))
    for name, params in periods[2:]:
        for by in ("day", "week", "month"):
            query = urlencode({**params, "currency": "USD", "by": by})
            pages.append((f"revenue {name} USD by {by}", f"/admin/revenue/?{query}"))

    ledger = "/admin/payments/payment/"
    this_month = {"paid_at__gte": month_start.isoformat(), "paid_at__lt": next_month.isoformat()}
    sample = _samples(email)
    pages += [
        ("payments", ledger),
        ("payments this month", f"{ledger}?{urlencode(this_month)}"),
        ("payments USD", f"{ledger}?currency__exact=USD"),
        ("payments membership", f"{ledger}?kind__exact=membership"),
        ("payments by article", f"{ledger}?{urlencode({'article': slug})}"),
        ("payments refunded", f"{ledger}?refunded=yes"),
        ("payments disputed", f"{ledger}?disputed=yes"),
        ("payments search email", f"{ledger}?{urlencode({'q': email})}"),
        ("payments search name", f"{ledger}?{urlencode({'q': sample['name']})}"),
        ("payments search pi_", f"{ledger}?{urlencode({'q': sample['pi']})}"),
        ("payments search ch_", f"{ledger}?{urlencode({'q': sample['ch']})}"),
        ("payments search cus_", f"{ledger}?{urlencode({'q': sample['cus']})}"),
        ("payments sorted by amount", f"{ledger}?o=3"),
        ("donations", "/admin/payments/donation/"),
        ("donations succeeded", "/admin/payments/donation/?status__exact=succeeded"),
        ("donations USD", "/admin/payments/donation/?currency__exact=USD"),
        ("donations search email", f"/admin/payments/donation/?{urlencode({'q': email})}"),
        ("donations search name", f"/admin/payments/donation/?{urlencode({'q': sample['name']})}"),
        ("donations search pi_", f"/admin/payments/donation/?{urlencode({'q': sample['pi']})}"),
        ("donors", "/admin/payments/donor/"),
        ("donors search email", f"/admin/payments/donor/?{urlencode({'q': email})}"),
        ("donors search name", f"/admin/payments/donor/?{urlencode({'q': sample['name']})}"),
        ("donors search cus_", f"/admin/payments/donor/?{urlencode({'q': sample['cus']})}"),
        ("refunds", "/admin/payments/refund/"),
        ("refunds search email", f"/admin/payments/refund/?{urlencode({'q': email})}"),
        ("disputes", "/admin/payments/dispute/"),
        ("disputes open", "/admin/payments/dispute/?open=yes"),
        ("stripe events", "/admin/payments/stripeevent/"),
        ("stripe events failed", "/admin/payments/stripeevent/?status__exact=failed"),
        ("stripe events by type", "/admin/payments/stripeevent/?type=invoice.paid"),
        (
            "stripe events search evt_",
            f"/admin/payments/stripeevent/?{urlencode({'q': sample['evt']})}",
        ),
        ("receipts", "/admin/payments/receipt/"),
        ("receipts search email", f"/admin/payments/receipt/?{urlencode({'q': email})}"),
        (
            "receipts search number",
            f"/admin/payments/receipt/?{urlencode({'q': sample['receipt']})}",
        ),
        ("memberships", "/admin/members/membership/"),
        ("memberships counted active", "/admin/members/membership/?counted=active"),
        ("memberships canceled", "/admin/members/membership/?status__exact=canceled"),
        ("memberships search email", f"/admin/members/membership/?{urlencode({'q': email})}"),
        (
            "memberships search name",
            f"/admin/members/membership/?{urlencode({'q': sample['name']})}",
        ),
        (
            "memberships search sub_",
            f"/admin/members/membership/?{urlencode({'q': sample['sub']})}",
        ),
        ("gift memberships", "/admin/members/giftmembership/"),
        (
            "gift memberships search email",
            f"/admin/members/giftmembership/?{urlencode({'q': email})}",
        ),
        ("users", "/admin/members/user/"),
        ("users search email", f"/admin/members/user/?{urlencode({'q': email})}"),
        ("users search name", f"/admin/members/user/?{urlencode({'q': sample['name']})}"),
        ("member webhook deliveries", "/admin/members/webhookdelivery/"),
        ("card testing blocks", "/admin/payments/cardtestingblock/"),
        ("card check failures", "/admin/payments/cardcheckfailure/"),
        ("articles", "/admin/content/article/"),
        ("campaigns", "/admin/content/campaign/"),
    ]
    return pages


def _samples(email: str) -> dict[str, str]:
    """Values to search for, drawn from the data: ids of a payment halfway down the
    ledger, a donor's name, a subscription, an event and a receipt."""
    from members.models import Membership
    from payments.models import Donor, Payment, Receipt, StripeEvent

    def first(queryset, default):
        return next(iter(queryset[:1]), None) or default

    count = Payment.objects.count()
    payment = first(
        Payment.objects.filter(
            stripe_payment_intent_id__isnull=False, stripe_charge_id__isnull=False
        )
        .order_by("pk")
        .values("stripe_payment_intent_id", "stripe_charge_id")[count // 2 :],
        {"stripe_payment_intent_id": "pi_none", "stripe_charge_id": "ch_none"},
    )
    donor = Donor.objects.filter(email=email).values("name", "stripe_customer_id").first() or {}
    return {
        "pi": payment["stripe_payment_intent_id"],
        "ch": payment["stripe_charge_id"],
        "cus": donor.get("stripe_customer_id") or "cus_none",
        "name": donor.get("name")
        or first(
            Donor.objects.exclude(name="").order_by("pk").values_list("name", flat=True), "Anna"
        ),
        "sub": first(
            Membership.objects.filter(stripe_subscription_id__isnull=False)
            .order_by("pk")
            .values_list("stripe_subscription_id", flat=True),
            "sub_none",
        ),
        "evt": first(
            StripeEvent.objects.order_by("pk").values_list("stripe_id", flat=True)[count // 10 :],
            "evt_none",
        ),
        "receipt": first(Receipt.objects.order_by("pk").values_list("number", flat=True), "0"),
    }


def _database_cpu_seconds() -> float | None:
    """CPU time used so far by this connection's PostgreSQL backend (from /proc, when the
    database runs on this machine), else None. With this process's own CPU time it gives
    a page's cost that other work on a busy machine does not inflate."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    global _BACKEND_PID
    if _BACKEND_PID is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            _BACKEND_PID = cursor.fetchone()[0]
    try:
        return stat_cpu_seconds(Path(f"/proc/{_BACKEND_PID}/stat").read_text())[1]
    except (OSError, ValueError, IndexError):
        return None


_BACKEND_PID: int | None = None


def _time_page(client, url: str, runs: int) -> dict:
    """Median and worst of `runs` requests (after one untimed), their CPU time (this
    process and the database's), and one request's queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)
    result = {"status": response.status_code, "times": [], "cpu": [], "queries": None}
    result["slowest"] = []
    if response.status_code != 200:
        return result
    for run in range(runs):
        with CaptureQueriesContext(connection) as captured:
            database_before = _database_cpu_seconds()
            cpu_before = time.process_time()
            started = time.perf_counter()
            response = client.get(url)
            _ = response.content
            result["times"].append((time.perf_counter() - started) * 1000)
            cpu = time.process_time() - cpu_before
            database_after = _database_cpu_seconds()
            if database_before is not None and database_after is not None:
                cpu += database_after - database_before
            result["cpu"].append(cpu * 1000)
        if run == 0:
            result["queries"] = len(captured.captured_queries)
            result["slowest"] = sorted(
                captured.captured_queries, key=lambda q: float(q["time"]), reverse=True
            )
    return result


def _time_export(client, url: str) -> dict:
    """The CSV export of the whole ledger: time to first byte and to the last."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = client.get(url)
        if response.status_code != 200:
            return {"status": response.status_code}
        chunks = iter(response.streaming_content if response.streaming else [response.content])
        size = len(next(chunks, b""))
        first = (time.perf_counter() - started) * 1000
        lines = 0
        for chunk in chunks:
            size += len(chunk)
            lines += chunk.count(b"\n")
        total = (time.perf_counter() - started) * 1000
    return {
        "status": 200,
        "streamed": response.streaming,
        "first_ms": first,
        "total_ms": total,
        "bytes": size,
        "lines": lines,
        "queries": len(captured.captured_queries),
    }


def _figure(page: str, median, worst, queries, status: int, cpu=None) -> dict:
    """One page's figures as --json writes them (times in ms, None if not timed; cpu_ms:
    the median CPU time of this process and the database's backend)."""
    return {
        "page": page,
        "median_ms": None if median is None else round(median, 1),
        "worst_ms": None if worst is None else round(worst, 1),
        "queries": queries,
        "status": status,
        "cpu_ms": None if cpu is None else round(cpu, 1),
    }


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    _setup_django()
    from django.db import connection
    from django.test import Client

    from payments.models import Payment

    if connection.vendor != "postgresql":
        print(
            f"Note: the database is {connection.vendor}; the figures that count are "
            "PostgreSQL's (DATABASE_URL=postgres://...)."
        )
    if not args.reuse:
        _build(args)
    payments = Payment.objects.count()
    print(f"{payments} payments in the ledger ({connection.vendor}); {args.runs} runs a page\n")
    client = Client(HTTP_HOST="localhost")
    client.force_login(_superuser())

    rows, problems, figures = [], 0, []
    for label, url in _pages():
        if args.only and args.only not in label:
            continue
        result = _time_page(client, url, args.runs)
        if result["status"] != 200:
            note = {404: "not there (404)", 302: "redirected (unknown filter?)"}.get(
                result["status"], f"HTTP {result['status']}"
            )
            problems += result["status"] >= 500
            rows.append((label, "-", "-", "-", "-", note))
            figures.append(_figure(label, None, None, None, result["status"]))
            print(f"  {label}: {note}", flush=True)
            continue
        median, worst = statistics.median(result["times"]), max(result["times"])
        cpu = statistics.median(result["cpu"])
        slow = worst > SLOW_MS
        problems += slow
        rows.append(
            (
                label,
                f"{median:.0f}",
                f"{worst:.0f}",
                f"{cpu:.0f}",
                str(result["queries"]),
                "SLOW" if slow else "",
            )
        )
        figures.append(_figure(label, median, worst, result["queries"], result["status"], cpu))
        print(f"  {label}: {median:.0f} ms, {result['queries']} queries", flush=True)
        for query in result["slowest"][: args.show_queries]:
            print(f"      {float(query['time']) * 1000:7.1f} ms  {query['sql']}")

    export = None
    if not args.no_export and (not args.only or args.only in "export csv"):
        export = _time_export(client, "/admin/payments/payment/export.csv")
        first = export.get("first_ms")
        figures.append(
            _figure(
                "ledger CSV export, first byte",
                first,
                first,
                export.get("queries"),
                export["status"],
            )
        )

    width = max(len(row[0]) for row in rows) if rows else 10
    print(f"\n{'page':<{width}}  {'median ms':>9}  {'max ms':>7}  {'cpu ms':>6}  {'queries':>7}")
    for label, median, worst, cpu, queries, note in rows:
        print(f"{label:<{width}}  {median:>9}  {worst:>7}  {cpu:>6}  {queries:>7}  {note}")
    if export is not None:
        if export["status"] != 200:
            print(f"\nCSV export: HTTP {export['status']}")
        else:
            print(
                f"\nCSV export of the ledger: first byte {export['first_ms']:.0f} ms, "
                f"all {export['total_ms'] / 1000:.1f} s, {export['lines']} lines, "
                f"{export['bytes'] / 1e6:.0f} MB, {export['queries']} queries"
                + ("" if export["streamed"] else " (NOT streamed)")
            )
    print(f"\nPages over {SLOW_MS} ms or failing: {problems}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
        print(f"Figures written to {args.json}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
