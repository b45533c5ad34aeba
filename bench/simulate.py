"""A chaos simulation of the whole stack: N random reader lifecycles, then the books.

    python -m bench.simulate --n 200 --seed 1      (or: make simulate N=200 SEED=1)

Starts PostgreSQL's database, Redis, gunicorn, a Celery worker and the Stripe
emulator on loopback (bench/simulation/stack.py); drives N seeded lifecycles
through the site's pages and Stripe.js's calls (journeys.py) while a proxy in
front of the webhook endpoint drops, delays and duplicates deliveries
(chaos.py); waits for the queue, runs `reconcile_stripe` and the unsent-email
sweeper, and compares the ledger, receipts, memberships and inbox with Stripe
(checks.py). Exits 1 on any difference, 2 if the run itself broke.
"""

import argparse
import signal
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/simulate.py` too
    sys.path.insert(0, str(ROOT))

from bench.context import seed_demo_data, setup_django  # noqa: E402
from bench.simulation.stack import Stack  # noqa: E402
from bench.simulation.stripe_side import StripeSide  # noqa: E402

STAFF_EMAIL, STAFF_PASSWORD = "sim-staff@example.org", "sim staff password 2026"

# After reconciliation: the unsent-email sweeper (beat runs it every few minutes), and
# events that failed are tried again now rather than at their next backoff (up to an
# hour away): what the worker would do on its own, sooner.
SWEEP_AND_RETRY = """
from payments import tasks
from payments.services import inbox
from payments.models import StripeEvent
from payments.states import EventStatus
sweeper = getattr(tasks, "send_unsent_emails", None)
swept = sweeper(older_than_minutes=0) if sweeper else "no sweeper"
failed = list(StripeEvent.objects.filter(status=EventStatus.FAILED))
for event in failed:
    inbox.requeue_event(event)
print(f"unsent emails swept: {swept}; failed events tried again: {len(failed)}")
"""


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="lifecycles (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="fixes what each reader does")
    parser.add_argument("--threads", type=int, default=24, help="readers at a time")
    parser.add_argument(
        "--redis-db",
        type=int,
        help="use this database of the Redis on 127.0.0.1:6379 (flushed) instead of "
        "starting a Redis server of the simulation's own",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the database afterwards, to look into it"
    )
    return parser.parse_args(argv)


def _seed_data() -> None:
    """Levels, suggested amounts and articles (demo_data), and a staff user to sign in."""
    from allauth.account.models import EmailAddress

    from members.models import User

    seed_demo_data()
    staff = User.objects.create_superuser(STAFF_EMAIL, STAFF_PASSWORD)
    EmailAddress.objects.create(user=staff, email=STAFF_EMAIL, verified=True, primary=True)


def _wait_drained(stack: Stack, stripe: StripeSide | None, *, timeout: float) -> bool:
    """Every delivery made, every stored event tried, the worker idle: for a few seconds."""
    from payments.models import StripeEvent
    from payments.states import EventStatus

    if stripe is not None:
        stripe.wait_sent()
    deadline = time.monotonic() + timeout
    quiet_since, seen = None, -1
    while time.monotonic() < deadline:
        stack.check_alive()
        received = stack.chaos.stats.received if stack.chaos else 0
        quiet = (
            stack.chaos.idle
            and received == seen
            and not StripeEvent.objects.filter(status=EventStatus.PENDING).exists()
            and stack.queue_is_idle()
        )
        seen = received
        if quiet:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 4:
                return True
        else:
            quiet_since = None
        time.sleep(0.5)
    return False


def _money(minor: int, currency: str) -> str:
    return "(differs)" if minor < 0 else f"{minor / 100:,.2f} {currency}"


def simulate(args: argparse.Namespace) -> int:
    started = time.monotonic()
    stack = Stack(seed=args.seed, redis_db=args.redis_db)
    ok = False
    try:
        print(f"Starting the stack (logs in {stack.workdir}) ...", flush=True)
        stack.start()
        setup_django(stack)
        _seed_data()
        from bench.simulation import checks, journeys

        stripe = StripeSide(
            stack.emulator,
            secret_key=stack.secret_key,
            webhook_url=stack.chaos.url,
            webhook_secret=stack.webhook_secret,
        )
        tally = journeys.Tally()
        world = journeys.World(
            site=stack.site,
            seed=args.seed,
            stripe=stripe,
            mail=stack.mail,
            staff=journeys.StaffDesk(stack.site, STAFF_EMAIL, STAFF_PASSWORD),
            tally=tally,
        )
        ready = time.monotonic()
        print(f"Stack up in {ready - started:.0f} s: {stack.site}", flush=True)
        print(f"Running {args.n} lifecycles (seed {args.seed}, {args.threads} at a time) ...")
        journeys.run(world, journeys.plan(args.n, args.seed), threads=args.threads)
        driven = time.monotonic()
        drained = _wait_drained(stack, stripe, timeout=300)
        print("Reconciling ...", flush=True)
        reconciled = stack.manage("reconcile_stripe").strip()
        sweeper = stack.manage("shell", "--no-imports", "-c", SWEEP_AND_RETRY).strip()
        drained = _wait_drained(stack, None, timeout=300) and drained
        journeys.run_late(world)
        drained = _wait_drained(stack, None, timeout=300) and drained
        finished = time.monotonic()

        report = checks.run_checks(stripe, stack.mail, tally)
        checks.print_report(report, _money)
        _print_run(args, tally, stack, stripe, reconciled, sweeper)
        print("\nTimings")
        print(f"  {ready - started:8.1f} s  starting the stack")
        print(f"  {driven - ready:8.1f} s  driving {args.n} lifecycles")
        print(f"  {finished - driven:8.1f} s  draining, reconciling, late claims")
        print(f"  {time.monotonic() - started:8.1f} s  in all")
        problems = []
        if tally.errors:
            problems.append(f"{len(tally.errors)} lifecycles broke")
        if not drained:
            problems.append("the queue did not drain within 5 minutes")
        if not report.ok:
            problems.append("the ledger and Stripe differ (see above)")
        ok = not problems
        print(
            f"\nRESULT seed={args.seed} n={args.n}: "
            + ("no difference" if ok else "; ".join(problems))
        )
        return 0 if ok else 1
    finally:
        # A second Ctrl-C or stop request must not cut the teardown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _close_database_connections()
        print("Stopping the stack ...", flush=True)
        stack.stop(keep_logs=args.keep_logs or not ok, keep_db=args.keep_db)
        if not ok:
            print(f"Logs kept in {stack.workdir}")
        if args.keep_db:
            print(f"Database kept: {stack.env.get('DATABASE_URL')}")


def _print_run(
    args, tally, stack: Stack, stripe: StripeSide, reconciled: str, sweeper: str
) -> None:
    print("\nLifecycles")
    for kind, count in sorted(tally.lifecycles.items()):
        print(f"  {count:>8}  {kind}")
    print("\nWhat readers, staff and Stripe did")
    for action, count in sorted(tally.actions.items()):
        print(f"  {count:>8}  {action}")
    chaos = stack.chaos.stats
    print("\nWebhook deliveries (chaos proxy)")
    print(f"  {chaos.received:>8}  received from Stripe")
    print(f"  {chaos.dropped:>8}  dropped (answered 200 or 500, not forwarded)")
    print(f"  {chaos.delayed:>8}  delayed (out of order)")
    print(f"  {chaos.duplicated:>8}  duplicated (some at once)")
    print(f"  {chaos.forwarded:>8}  forwarded to the site")
    for status, count in sorted(chaos.refused.items()):
        print(f"  {count:>8}  answered {status} by the site")
    for type_, count in sorted(stripe.sent.items()):
        print(f"  {count:>8}  {type_} made by the simulation (the emulator has none)")
    print(f"\nreconcile_stripe: {reconciled}")
    print(f"after reconciling: {sweeper}")
    if tally.errors:
        print(f"\nLifecycles that broke ({len(tally.errors)}):")
        for error in tally.errors[:15]:
            print(f"  {error}")


def _close_database_connections() -> None:
    """This process's connections, so the database can be dropped."""
    from django.apps import apps

    if apps.ready:
        from django.db import connections

        connections.close_all()


def _stop_requested(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    # A stop request (CI's timeout, kill) unwinds like Ctrl-C, through the teardown.
    signal.signal(signal.SIGTERM, _stop_requested)
    try:
        return simulate(args)
    except KeyboardInterrupt:
        print("Interrupted: the stack is stopped.")
        return 130
    except Exception:
        traceback.print_exc()
        print("The simulation itself broke (see above): nothing was checked.")
        return 2


if __name__ == "__main__":
    sys.exit(main())
