"""Retention: delete what payments no longer needs, after the periods in settings.

Run daily by the beat task `payments.tasks.apply_retention`.

- Raw Stripe events we ignored (RETENTION_IGNORED_EVENTS_DAYS) and processed ones
  (RETENTION_PROCESSED_EVENTS_DAYS): the ledger keeps the facts they brought. Both
  are kept at least as long as Stripe lists events (30 days), or reconciliation
  would fetch a deleted one again. Pending and failed events stay until handled.
- Gifts started and never paid (RETENTION_UNPAID_GIFTS_DAYS since their last
  change): no ledger row, so nothing to account for. A gift still being settled
  (processing) stays, and so does anything a ledger row, a gift membership or any
  other record points at with a protecting foreign key.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from payments import stripe_gateway as gateway
from payments.models import Donation, StripeEvent
from payments.states import DonationStatus, EventStatus

# Never paid, and no money on its way (a processing charge may still succeed).
UNPAID_STATUSES = [
    DonationStatus.AWAITING_CARD,
    DonationStatus.REQUIRES_ACTION,
    DonationStatus.FAILED,
    DonationStatus.ABANDONED,
]


@dataclass(frozen=True)
class RetentionResult:
    ignored_events: int
    processed_events: int
    unpaid_donations: int


def cutoff(now: datetime, days: int) -> datetime:
    """`days` ago, and never later than Stripe's events stop being listed (30 days): what
    reconciliation could still fetch or a late event still name is kept."""
    return now - max(timedelta(days=days), gateway.EVENT_RETENTION)


def unreferenced(queryset: models.QuerySet) -> models.QuerySet:
    """The rows no other record protects (PROTECT or RESTRICT foreign keys to them):
    the ledger's and gift memberships' links today, and any added later."""
    for relation in queryset.model._meta.related_objects:
        if relation.on_delete in (models.PROTECT, models.RESTRICT):
            queryset = queryset.filter(**{f"{relation.name}__isnull": True})
    return queryset


def unpaid_donations_to_delete(now: datetime) -> models.QuerySet[Donation]:
    cutoff = now - timedelta(days=settings.RETENTION_UNPAID_GIFTS_DAYS)
    return unreferenced(Donation.objects.filter(status__in=UNPAID_STATUSES, updated_at__lt=cutoff))


def apply_retention(*, now: datetime | None = None) -> RetentionResult:
    """Delete the expired records; returns how many of each."""
    now = now or timezone.now()
    ignored = _delete(
        StripeEvent.objects.filter(
            status=EventStatus.IGNORED,
            received_at__lt=cutoff(now, settings.RETENTION_IGNORED_EVENTS_DAYS),
        )
    )
    processed = _delete(
        StripeEvent.objects.filter(
            status=EventStatus.PROCESSED,
            received_at__lt=cutoff(now, settings.RETENTION_PROCESSED_EVENTS_DAYS),
        )
    )
    unpaid = delete_locked(unpaid_donations_to_delete, now)
    return RetentionResult(
        ignored_events=ignored, processed_events=processed, unpaid_donations=unpaid
    )


def delete_locked(rows: Callable[[datetime], models.QuerySet], now: datetime) -> int:
    """Delete `rows(now)` (the rows whose time is up), counted. They are locked first: a
    payment recorded for one of them meanwhile waits for us, and the delete reads them
    (and the links protecting them) once more."""
    with transaction.atomic():
        pks = list(rows(now).select_for_update(of=("self",)).values_list("pk", flat=True))
        return _delete(rows(now).filter(pk__in=pks))


def _delete(queryset: models.QuerySet) -> int:
    """Delete and count the rows of the queryset's own model (not what cascades)."""
    with transaction.atomic():
        _, deleted = queryset.delete()
    return deleted.get(queryset.model._meta.label, 0)
