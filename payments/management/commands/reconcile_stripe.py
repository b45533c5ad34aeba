"""List Stripe's events since the last one we have and process any that never arrived."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from payments.services import reconcile_events


class Command(BaseCommand):
    help = "Fetch Stripe events missed by the webhook (default: since the newest stored, less 1h)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--since", help="ISO date or datetime to list events from, e.g. 2026-11-01"
        )

    def handle(self, *args, since: str | None = None, **options) -> None:
        start = None
        if since:
            try:
                start = datetime.fromisoformat(since)
            except ValueError as exc:
                raise CommandError(f"--since {since!r} is not an ISO date") from exc
            if timezone.is_naive(start):
                start = timezone.make_aware(start, timezone.utc)
        result = reconcile_events(since=start)
        self.stdout.write(
            f"Stripe events seen: {result.seen}; newly stored: {result.stored}; "
            f"requeued: {result.requeued}"
        )
