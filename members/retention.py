"""Retention for memberships: joins started and never paid are deleted, as gifts never
paid are (payments/retention.py).

Run daily by the beat task `members.tasks.apply_retention`. A paid membership whose
first payment never succeeded (incomplete, or expired by Stripe after a day) has no
ledger row and gives no perks; it holds the email, address and attribution of someone
who never became a member. It goes RETENTION_UNPAID_MEMBERSHIPS_DAYS after its last
change, and never before Stripe stops listing its events (30 days), so no late event or
reconciliation can bring it back as a subscription "made outside this site". Comp and
gift memberships, and anything a gift membership points at, stay.
"""

from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from members.models import Membership
from members.states import MembershipKind, MembershipStatus
from payments.retention import cutoff, delete_locked, unreferenced

NEVER_PAID = [MembershipStatus.INCOMPLETE, MembershipStatus.EXPIRED]


def unpaid_joins_to_delete(now: datetime) -> QuerySet[Membership]:
    return unreferenced(
        Membership.objects.filter(
            kind=MembershipKind.PAID,
            status__in=NEVER_PAID,
            updated_at__lt=cutoff(now, settings.RETENTION_UNPAID_MEMBERSHIPS_DAYS),
        )
    )


def delete_unpaid_joins(*, now: datetime | None = None) -> int:
    """Delete the joins never paid whose time is up; how many."""
    return delete_locked(unpaid_joins_to_delete, now or timezone.now())
