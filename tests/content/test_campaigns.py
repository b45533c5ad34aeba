"""Campaigns: gifts and memberships from a campaign's links count once each; a live, cheap meter."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from content.models import Campaign, CampaignContribution, GoalKind
from content.support import CampaignProgress, live_campaign_progress
from members.models import Membership
from members.services.comp import grant_comp_membership
from members.services.stripe_sync import announce_changes
from members.signals import membership_started
from members.states import MembershipKind, MembershipStatus
from payments.signals import one_time_payment_succeeded
from payments.states import PaymentKind
from tests.content.helpers import article
from tests.factories import (
    DonationFactory,
    MembershipFactory,
    PaidMembershipFactory,
    PaymentFactory,
)

pytestmark = pytest.mark.django_db


def winter(**fields) -> Campaign:
    defaults = {"name": "Winter appeal: 500 new members", "slug": "winter", "goal": 500}
    return Campaign.objects.create(**{**defaults, **fields})


def paid_gift(campaign: str = "winter", *, kind=PaymentKind.ONE_TIME, amount=2500, currency="EUR"):
    donation = DonationFactory(campaign=campaign, kind=kind, amount=amount, currency=currency)
    PaymentFactory(
        donation=donation,
        donor=donation.donor,
        kind=kind,
        amount=amount,
        currency=currency,
        campaign=campaign,
    )
    return donation


def succeed(donation) -> None:
    one_time_payment_succeeded.send(
        sender=None,
        donation_id=str(donation.public_id),
        kind=donation.kind,
        campaign=donation.campaign,
    )


def test_new_memberships_from_the_campaign_count_once_even_when_announced_twice():
    campaign = winter()
    first = PaidMembershipFactory(campaign="winter", status=MembershipStatus.INCOMPLETE)
    second = PaidMembershipFactory(campaign="winter")
    PaidMembershipFactory(campaign="")  # not from the campaign

    first.status = MembershipStatus.ACTIVE
    first.save()
    announce_changes(first)  # the first payment went through: welcomed, announced
    announce_changes(first)  # a repeated event: already welcomed, not announced again
    membership_started.send(sender=None, membership_id=second.pk)
    membership_started.send(sender=None, membership_id=second.pk)  # redelivered

    campaign.refresh_from_db()
    assert campaign.new_members == 2
    assert campaign.progress == 2
    assert CampaignContribution.objects.filter(campaign=campaign).count() == 2
    assert live_campaign_progress().progress == 2


def test_a_comp_membership_granted_announces_its_start_but_names_no_campaign():
    campaign = winter()

    grant_comp_membership(email="friend@example.org", note="Partner")

    campaign.refresh_from_db()
    assert campaign.new_members == 0


def test_gifts_count_once_even_when_the_payment_event_is_processed_twice():
    campaign = winter(goal_kind=GoalKind.MONEY, goal=1_000_000, currency="EUR")
    gift = paid_gift(amount=2500)
    membership_gift = paid_gift(kind=PaymentKind.GIFT, amount=6000)
    dollars = paid_gift(amount=1000, currency="USD")  # another currency: not money raised

    for donation in (gift, gift, membership_gift, membership_gift, dollars):
        succeed(donation)

    campaign.refresh_from_db()
    assert campaign.amount_raised == 8500
    assert campaign.gifts == 3
    assert campaign.new_members == 1  # the gift membership bought
    progress = live_campaign_progress()
    assert (progress.progress, progress.goal, progress.currency) == (8500, 1_000_000, "EUR")
    assert progress.percent == 0


def test_a_gift_from_no_campaign_costs_the_campaign_counter_no_query(
    django_assert_num_queries,
):
    winter()
    gift = paid_gift(campaign="")

    with django_assert_num_queries(0):
        succeed(gift)

    assert CampaignContribution.objects.count() == 0


def test_a_gift_before_the_campaign_started_does_not_count():
    campaign = winter(starts_at=timezone.now() + timedelta(days=1))

    succeed(paid_gift())

    campaign.refresh_from_db()
    assert campaign.gifts == 0


def test_the_meter_is_cached_and_refreshed_when_the_counters_change(
    django_assert_num_queries,
):
    winter()
    assert live_campaign_progress().progress == 0

    with django_assert_num_queries(0):
        assert live_campaign_progress().progress == 0

    membership_started.send(sender=None, membership_id=MembershipFactory(campaign="winter").pk)

    assert live_campaign_progress().progress == 1


def test_the_meter_shows_under_articles_for_a_live_campaign_with_its_links():
    winter(ends_at=timezone.now() + timedelta(days=30))
    MembershipFactory.create_batch(3, campaign="winter")
    for membership in Membership.objects.all():
        membership_started.send(sender=None, membership_id=membership.pk)
    story = article(slug="night-shift")

    html = Client().get(reverse("content:article", args=[story.slug])).content.decode()

    assert "Winter appeal: 500 new members" in html
    assert '<progress max="500" value="3"' in html
    assert "3 of 500 new members (0%)" in html
    assert 'href="/join/?from=night-shift&amp;campaign=winter"' in html


@pytest.mark.parametrize(
    "dates",
    [
        {"starts_at": timezone.now() + timedelta(days=1)},
        {
            "starts_at": timezone.now() - timedelta(days=30),
            "ends_at": timezone.now() - timedelta(days=1),
        },
    ],
    ids=["not-started", "ended"],
)
def test_a_campaign_outside_its_dates_is_not_shown(dates):
    winter(**dates)
    story = article(slug="night-shift")

    html = Client().get(reverse("content:article", args=[story.slug])).content.decode()

    assert live_campaign_progress() is None
    assert "campaign-meter" not in html
    assert "campaign=winter" not in html


def test_editing_a_campaign_in_admin_refreshes_the_meter(staff_client):
    campaign = winter()
    assert live_campaign_progress().name == campaign.name

    campaign.name = "Winter appeal"
    campaign.save()

    assert live_campaign_progress().name == "Winter appeal"
    assert staff_client.get(reverse("admin:content_campaign_changelist")).status_code == 200
    assert (
        staff_client.get(reverse("admin:content_campaign_change", args=[campaign.pk])).status_code
        == 200
    )


def test_a_gift_membership_claimed_is_not_counted_again():
    """The gift bought from the campaign counted one new member; its claim names none."""
    campaign = winter()
    succeed(paid_gift(kind=PaymentKind.GIFT, amount=6000))
    claimed = MembershipFactory(kind=MembershipKind.GIFT, note="")

    membership_started.send(sender=None, membership_id=claimed.pk)

    campaign.refresh_from_db()
    assert campaign.new_members == 1


def test_the_home_page_shows_the_running_campaign_with_links_that_count(client):
    winter()

    html = client.get(reverse("home")).content.decode()

    assert "Winter appeal: 500 new members" in html
    assert 'href="/join/?campaign=winter"' in html


def test_demo_data_adds_one_live_campaign_and_counts_its_demo_memberships_once():
    from io import StringIO

    from django.core.management import call_command

    call_command("demo_data", stdout=StringIO())
    call_command("demo_data", stdout=StringIO())  # safe to run twice

    campaign = Campaign.objects.get()
    assert campaign.is_active
    counted = CampaignContribution.objects.filter(campaign=campaign)
    assert campaign.new_members == sum(c.new_members for c in counted)
    assert campaign.new_members > 0
    assert live_campaign_progress().slug == campaign.slug


@pytest.mark.parametrize(
    ("kind", "goal", "progress", "currency", "figures"),
    [
        (GoalKind.MEMBERS, 1000, 3, None, "3 of 1,000 new members"),
        (GoalKind.MEMBERS, 1, 0, None, "0 of 1 new member"),
        (GoalKind.MONEY, 500_000, 120_050, "EUR", "€1,200.50 of €5,000.00"),
    ],
)
def test_the_meter_says_how_far_the_campaign_is_in_its_own_unit(
    kind, goal, progress, currency, figures
):
    meter = CampaignProgress(
        slug="s",
        name="n",
        goal_kind=kind,
        goal=goal,
        progress=progress,
        currency=currency,
        ends_at=None,
        percent=0,
    )

    assert meter.figures == figures
