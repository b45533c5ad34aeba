"""The card a membership is charged to, as the member is shown it ("Visa ending 4242"):
remembered at join and card update (tests/members/test_join.py, test_journey_membership.py)
and followed when another is put on the subscription outside this site, read from
Stripe so a late event never brings back an older card, and never over the member's own
update made meanwhile."""

from dataclasses import replace

import pytest
from django.utils import timezone

from members.services import card_checks
from members.services.stripe_sync import sync_subscription
from payments import stripe_gateway as gateway
from tests.factories import PaidMembershipFactory
from tests.support import stripe_payloads as payloads

pytestmark = pytest.mark.django_db

MASTERCARD = gateway.CardInfo(brand="mastercard", last4="4444")


@pytest.fixture
def membership():
    return PaidMembershipFactory(
        card_brand="visa", card_last4="4242", card_payment_method_id="pm_joined"
    )


def subscription_of(membership, card: str | None) -> gateway.SubscriptionInfo:
    built = payloads.subscription(id=membership.stripe_subscription_id)
    return replace(gateway.subscription_from_object(built), default_payment_method_id=card)


@pytest.fixture
def stripe_now_charges(monkeypatch):
    """What Stripe says when asked: the subscription's card, then that card's details."""

    def charges(membership, card: str, *, meanwhile=lambda: None):
        def retrieve_subscription(subscription_id):
            assert subscription_id == membership.stripe_subscription_id
            meanwhile()
            return subscription_of(membership, card)

        def retrieve_payment_method(method_id):
            assert method_id == card
            return gateway.PaymentMethodInfo(
                id=card, card_fingerprint="fp", customer_id="cus", card=MASTERCARD
            )

        monkeypatch.setattr(gateway, "retrieve_subscription", retrieve_subscription)
        monkeypatch.setattr(gateway, "retrieve_payment_method", retrieve_payment_method)

    return charges


def test_the_card_stripe_charges_now_is_remembered(membership, stripe_now_charges):
    stripe_now_charges(membership, "pm_dashboard")

    card_checks.follow_card(membership.pk)

    membership.refresh_from_db()
    assert (membership.card, membership.card_payment_method_id) == (
        "Mastercard ending 4444",
        "pm_dashboard",
    )


def test_the_members_own_update_made_meanwhile_is_kept(membership, stripe_now_charges):
    def member_updates_their_card():
        card_checks.remember_card(membership, "pm_member", gateway.CardInfo("amex", "0005"))

    stripe_now_charges(membership, "pm_dashboard", meanwhile=member_updates_their_card)

    card_checks.follow_card(membership.pk)

    membership.refresh_from_db()
    assert (membership.card, membership.card_payment_method_id) == (
        "American Express ending 0005",
        "pm_member",
    )


@pytest.mark.parametrize(
    ("card_on_the_subscription", "followed"),
    [("pm_dashboard", True), ("pm_joined", False), (None, False)],
    ids=["another card", "the card remembered", "the customer's default card"],
)
def test_only_an_event_naming_another_card_sends_us_to_read_it(
    membership, django_capture_on_commit_callbacks, monkeypatch, card_on_the_subscription, followed
):
    asked = []
    monkeypatch.setattr("members.tasks.follow_membership_card.delay", lambda pk: asked.append(pk))

    with django_capture_on_commit_callbacks(execute=True):
        sync_subscription(
            subscription_of(membership, card_on_the_subscription), as_of=timezone.now()
        )

    assert asked == ([membership.pk] if followed else [])
