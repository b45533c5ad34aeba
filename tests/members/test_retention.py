"""Retention of joins never paid: deleted by a daily beat task after their period (and
never before Stripe stops listing their events); members, comp and gift memberships and
anything a gift membership points at stay."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from members import retention
from members.models import Membership
from members.states import MembershipKind, MembershipStatus
from members.tasks import apply_retention
from tests.factories import GiftMembershipFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def membership_touched(days_ago: int, status: str, kind: str = MembershipKind.PAID, **fields):
    price = {"amount": 1000, "currency": "USD", "interval": "month"}
    membership = MembershipFactory(kind=kind, status=status, user=None, **price, **fields)
    touched = timezone.now() - timedelta(days=days_ago)
    Membership.objects.filter(pk=membership.pk).update(updated_at=touched)
    return membership


def remaining(*memberships) -> set[int]:
    pks = [m.pk for m in memberships]
    return set(Membership.objects.filter(pk__in=pks).values_list("pk", flat=True))


@pytest.fixture(autouse=True)
def period(settings):
    settings.RETENTION_UNPAID_MEMBERSHIPS_DAYS = 45


def test_joins_never_paid_go_after_their_period():
    guest_start = membership_touched(46, MembershipStatus.INCOMPLETE, email="a@example.org")
    expired = membership_touched(46, MembershipStatus.EXPIRED, stripe_subscription_id="sub_x")
    recent = membership_touched(44, MembershipStatus.INCOMPLETE)

    assert retention.delete_unpaid_joins() == 2
    assert remaining(guest_start, expired, recent) == {recent.pk}


def test_members_and_comp_and_gift_memberships_are_never_deleted_however_old():
    statuses = [s for s in MembershipStatus if s not in retention.NEVER_PAID]
    members = [membership_touched(900, status) for status in statuses]  # ended ones too
    comp = membership_touched(900, MembershipStatus.INCOMPLETE, kind=MembershipKind.COMP)
    gift = GiftMembershipFactory(
        membership=membership_touched(900, MembershipStatus.EXPIRED, kind=MembershipKind.PAID)
    )

    assert retention.delete_unpaid_joins() == 0
    kept = [*members, comp, gift.membership]
    assert remaining(*kept) == {m.pk for m in kept}


def test_joins_stay_as_long_as_stripe_lists_their_events_whatever_the_setting(settings):
    settings.RETENTION_UNPAID_MEMBERSHIPS_DAYS = 1
    young = membership_touched(29, MembershipStatus.EXPIRED, stripe_subscription_id="sub_y")
    old = membership_touched(31, MembershipStatus.EXPIRED, stripe_subscription_id="sub_o")

    assert retention.delete_unpaid_joins() == 1
    assert remaining(young, old) == {young.pk}


def test_the_daily_beat_task_deletes_joins_never_paid():
    unpaid = membership_touched(46, MembershipStatus.INCOMPLETE)

    assert settings.CELERY_BEAT_SCHEDULE["apply-member-retention"]["task"] == apply_retention.name
    assert apply_retention.run() == 1
    assert remaining(unpaid) == set()
