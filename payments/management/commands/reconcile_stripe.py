"""Process Stripe events that never arrived; optionally compare the ledger with Stripe."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from payments.money import Money
from payments.selectors import compare_ledger_with_stripe
from payments.services.inbox import reconcile_events


def _moment(value: str, option: str) -> datetime:
    """A date (midnight) or date-time, with or without a zone; naive ones are in TIME_ZONE."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise CommandError(
            f"{option} {value!r} is not a date (2026-11-25) or date-time "
            "(2026-11-25T14:30, 2026-11-25T14:30+01:00)"
        ) from exc
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = (
        "Fetch Stripe events missed by the webhook (default: since the newest stored, less 1h); "
        "with --compare FROM TO, then compare the ledger's totals with Stripe's for that period."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--since",
            help="date or date-time to list events from, e.g. 2026-11-01 or 2026-11-01T09:00 "
            "(no zone: TIME_ZONE)",
        )
        parser.add_argument(
            "--compare",
            nargs=2,
            metavar=("FROM", "TO"),
            help="dates or date-times: compare charges and refunds in [FROM, TO) with Stripe's, "
            "e.g. --compare 2026-11-01 2026-12-01",
        )

    def handle(self, *args, since: str | None = None, compare=None, **options) -> None:
        start = _moment(since, "--since") if since else None
        try:
            result = reconcile_events(since=start)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Stripe events seen: {result.seen}; newly stored: {result.stored}; "
            f"requeued: {result.requeued}"
        )
        if compare:
            self._compare(_moment(compare[0], "FROM"), _moment(compare[1], "TO"))

    def _compare(self, start: datetime, end: datetime) -> None:
        comparison = compare_ledger_with_stripe(start, end)
        self.stdout.write(f"Ledger against Stripe, {start:%Y-%m-%d} to {end:%Y-%m-%d}:")
        for check in comparison.currencies:
            code = check.currency
            self.stdout.write(
                f"  {code}: charged {Money(check.stripe_charged, code)} in Stripe, "
                f"{Money(check.ledger_charged, code)} in the ledger; refunded "
                f"{Money(check.stripe_refunded, code)} in Stripe, "
                f"{Money(check.ledger_refunded, code)} in the ledger  "
                f"{'ok' if check.matches else 'DIFFERS'}"
            )
        for charge_id in comparison.missing_charge_ids:
            self.stdout.write(f"  not in the ledger: {charge_id}")
        if not comparison.matches:
            raise CommandError("The ledger and Stripe differ for this period.")
        self.stdout.write("The ledger matches Stripe.")
