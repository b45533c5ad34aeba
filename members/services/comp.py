"""Complimentary memberships granted by staff; memberships following an address to its account."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from members.models import Membership, User
from members.services.self_service import locked_membership
from members.services.stripe_sync import announce_changes
from members.states import (
    MEMBERSHIP,
    MembershipKind,
    MembershipStatus,
)


@transaction.atomic
def grant_comp_membership(
    *, email: str, ends_at: datetime | None = None, note: str = "", granted_by: User | None = None
) -> Membership:
    """Perks without payment (staff, partners, hardship), until `ends_at` or for good."""
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    membership = Membership.objects.create(
        user=user,
        email=email,
        kind=MembershipKind.COMP,
        status=MembershipStatus.ACTIVE,
        ends_at=ends_at,
        note=note,
        granted_by=granted_by,
    )
    announce_changes(membership)
    return membership


def end_expired_memberships() -> int:
    """Comp and gift memberships whose end date has passed are ended (hourly beat task)."""
    ended = 0
    expired = Membership.objects.filter(
        kind__in=[MembershipKind.COMP, MembershipKind.GIFT],
        status=MembershipStatus.ACTIVE,
        ends_at__lte=timezone.now(),
    ).values_list("pk", flat=True)
    for pk in expired:
        with transaction.atomic():
            membership = locked_membership(Membership(pk=pk))
            if MEMBERSHIP.advance(membership, MembershipStatus.CANCELED):
                membership.ended_at = membership.ends_at
                membership.save()
                announce_changes(membership)
                ended += 1
    return ended
