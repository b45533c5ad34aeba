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

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from members.models import Membership
from members.states import MembershipKind, MembershipStatus
from payments import stripe_gateway as gateway
from payments.retention import unreferenced

NEVER_PAID = [MembershipStatus.INCOMPLETE, MembershipStatus.EXPIRED]


def unpaid_joins_to_delete(now: datetime) -> QuerySet[Membership]:
    period = timedelta(days=settings.RETENTION_UNPAID_MEMBERSHIPS_DAYS)
    cutoff = now - max(period, gateway.EVENT_RETENTION)
    return unreferenced(
        Membership.objects.filter(
            kind=MembershipKind.PAID, status__in=NEVER_PAID, updated_at__lt=cutoff
        )
    )


def delete_unpaid_joins(*, now: datetime | None = None) -> int:
    """Delete the joins never paid whose time is up; how many."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locked: a first payment recorded for one of them now waits for us, and the
        # delete reads their status once more.
        locked = unpaid_joins_to_delete(now).select_for_update(of=("self",))
        pks = list(locked.values_list("pk", flat=True))
        _, deleted = unpaid_joins_to_delete(now).filter(pk__in=pks).delete()
    return deleted.get(Membership._meta.label, 0)
