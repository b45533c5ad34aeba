"""Retention: old raw Stripe events and gifts never paid are deleted by a daily beat task,
and nothing the ledger or a gift membership points at ever is."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from payments import retention
from payments.models import Donation, StripeEvent
from payments.states import DonationStatus, EventStatus, PaymentKind
from payments.tasks import apply_retention
from tests.factories import (
    DonationFactory,
    GiftMembershipFactory,
    PaymentFactory,
    StripeEventFactory,
)

pytestmark = pytest.mark.django_db


def event_received(days_ago: int, status: str, **fields) -> StripeEvent:
    event = StripeEventFactory(status=status, **fields)
    received = timezone.now() - timedelta(days=days_ago)
    StripeEvent.objects.filter(pk=event.pk).update(received_at=received)
    return event


def gift_started(days_ago: int, status: str, **fields) -> Donation:
    donation = DonationFactory(status=status, **fields)
    touched = timezone.now() - timedelta(days=days_ago)
    Donation.objects.filter(pk=donation.pk).update(created_at=touched, updated_at=touched)
    return donation


def remaining(model, *objects) -> set[int]:
    return set(model.objects.filter(pk__in=[o.pk for o in objects]).values_list("pk", flat=True))


@pytest.fixture(autouse=True)
def periods(settings):
    settings.RETENTION_IGNORED_EVENTS_DAYS = 40
    settings.RETENTION_PROCESSED_EVENTS_DAYS = 400
    settings.RETENTION_UNPAID_GIFTS_DAYS = 30


def test_ignored_events_go_after_their_period_and_processed_ones_after_the_longer_one():
    old_ignored = event_received(41, EventStatus.IGNORED)
    young_ignored = event_received(39, EventStatus.IGNORED)
    old_processed = event_received(401, EventStatus.PROCESSED)
    processed = event_received(41, EventStatus.PROCESSED)

    result = retention.apply_retention()

    assert (result.ignored_events, result.processed_events) == (1, 1)
    assert remaining(StripeEvent, old_ignored, young_ignored, old_processed, processed) == {
        young_ignored.pk,
        processed.pk,
    }


def test_pending_and_failed_events_stay_however_old_they_are():
    pending = event_received(900, EventStatus.PENDING)
    failed = event_received(900, EventStatus.FAILED)

    retention.apply_retention()

    assert remaining(StripeEvent, pending, failed) == {pending.pk, failed.pk}


def test_events_stay_as_long_as_stripe_lists_them_whatever_the_setting(settings):
    settings.RETENTION_IGNORED_EVENTS_DAYS = 1
    settings.RETENTION_PROCESSED_EVENTS_DAYS = 1
    ignored = event_received(29, EventStatus.IGNORED)
    processed = event_received(29, EventStatus.PROCESSED)
    older = event_received(31, EventStatus.IGNORED)

    retention.apply_retention()

    assert remaining(StripeEvent, ignored, processed, older) == {ignored.pk, processed.pk}


def test_gifts_never_paid_go_after_their_period():
    abandoned = [
        gift_started(31, status)
        for status in (
            DonationStatus.AWAITING_CARD,
            DonationStatus.REQUIRES_ACTION,
            DonationStatus.FAILED,
            DonationStatus.ABANDONED,
        )
    ]
    recent = gift_started(29, DonationStatus.FAILED)

    result = retention.apply_retention()

    assert result.unpaid_donations == 4
    assert remaining(Donation, *abandoned, recent) == {recent.pk}


def test_paid_settling_ledger_linked_and_gift_membership_gifts_are_never_deleted():
    paid = gift_started(900, DonationStatus.SUCCEEDED)
    settling = gift_started(900, DonationStatus.PROCESSING)  # the money may still come
    on_the_ledger = gift_started(900, DonationStatus.FAILED)
    PaymentFactory(donor=on_the_ledger.donor, donation=on_the_ledger)
    gift = GiftMembershipFactory(
        donation__status=DonationStatus.FAILED, donation__kind=PaymentKind.GIFT
    )
    Donation.objects.filter(pk=gift.donation_id).update(
        updated_at=timezone.now() - timedelta(days=900)
    )

    result = retention.apply_retention()

    assert result.unpaid_donations == 0
    assert remaining(Donation, paid, settling, on_the_ledger, gift.donation) == {
        paid.pk,
        settling.pk,
        on_the_ledger.pk,
        gift.donation_id,
    }


def test_the_daily_beat_task_applies_retention():
    old = event_received(41, EventStatus.IGNORED)
    unpaid = gift_started(31, DonationStatus.AWAITING_CARD)

    assert settings.CELERY_BEAT_SCHEDULE["apply-retention"]["task"] == apply_retention.name
    assert apply_retention.run() == {
        "ignored_events": 1,
        "processed_events": 0,
        "unpaid_donations": 1,
    }
    assert not remaining(StripeEvent, old) and not remaining(Donation, unpaid)
