"""Card testing on the membership card forms: joining and updating the card.

Each card form opened has a bounded number of failed card checks, counted from
Stripe's events (the card is confirmed by Stripe.js directly with Stripe) and
from our own confirm calls; past the bound the form is closed at Stripe and the
member starts again. A live membership is never ended for it.
"""

from django.urls import reverse

from members.models import Membership
from members.services.card_checks import CARD_ATTEMPTS_USED_UP
from members.states import MembershipStatus
from payments import stripe_gateway as gateway
from payments.models import CardCheckFailure, StripeEvent
from payments.states import EventStatus
from tests.factories import UserFactory
from tests.members.memberships import join
from tests.support import stripe_payloads as payloads
from tests.support.processes import wait_until
from tests.support.stripejs import (
    CARD_3DS,
    CARD_DECLINED_ON_CHARGE,
    CARD_OK,
    confirm_card_payment,
    confirm_card_setup,
)
from tests.support.webhooks import post_event

JOIN = {"amount": "10", "currency": "USD", "interval": "month"}
DECLINED_AT_SETUP = ["4000000000000002", "4000000000009995", "4000000000009987"]


def decline_at_setup(secret: str, *numbers: str) -> None:
    for number in numbers:
        answer = confirm_card_setup(secret, number)
        assert answer["error"]["code"] == "card_declined", answer


def card_failures(membership: Membership, count: int) -> Membership:
    """Wait until the worker has counted `count` failed card checks on the membership."""
    return wait_until(
        lambda: Membership.objects.filter(pk=membership.pk, card_failures__gte=count).first()
    )


def test_a_join_tried_with_card_after_card_is_closed_after_the_bound_and_starts_again(
    client, tasks, stripe_webhooks, settings
):
    settings.DONATION_MAX_CARD_ATTEMPTS = 3
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    membership = Membership.objects.get(public_id=started["membership"])

    decline_at_setup(started["setupClientSecret"], *DECLINED_AT_SETUP)

    membership = card_failures(membership, 3)
    setup_id = membership.stripe_setup_intent_id
    wait_until(lambda: gateway.retrieve_setup_intent(setup_id).status == "canceled")
    assert confirm_card_setup(started["setupClientSecret"], CARD_OK)["error"]
    confirming = client.post(started["confirmUrl"])
    assert confirming.status_code == 400
    assert confirming.json() == {"error": CARD_ATTEMPTS_USED_UP}

    again = client.post(reverse("members:join_start"), JOIN).json()
    assert Membership.objects.get(public_id=again["membership"]).card_failures == 0
    confirm_card_setup(again["setupClientSecret"], CARD_OK)
    assert client.post(again["confirmUrl"]).json()["status"] == "succeeded"


def test_a_declined_first_payment_counts_once_for_its_join(client, tasks, stripe_webhooks):
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    confirm_card_setup(started["setupClientSecret"], CARD_DECLINED_ON_CHARGE)

    declined = client.post(started["confirmUrl"]).json()

    assert declined["status"] == "failed" and declined["setupClientSecret"]
    membership = Membership.objects.get(public_id=started["membership"])
    assert membership.card_failures == 1
    assert CardCheckFailure.objects.get().user_id == membership.user_id


def test_a_first_payment_failed_directly_at_stripe_counts_for_its_join_once(
    client, tasks, stripe_webhooks
):
    """The client secret handed out for 3-D Secure lets the browser confirm the first
    invoice's payment with Stripe itself: Stripe's `invoice.payment_failed` counts it."""
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    confirm_card_setup(started["setupClientSecret"], CARD_3DS)
    waiting = client.post(started["confirmUrl"]).json()
    assert waiting["status"] == "requires_action"

    confirm_card_payment(waiting["clientSecret"], authenticate=False)

    membership = card_failures(Membership.objects.get(public_id=started["membership"]), 1)
    subscription = gateway.retrieve_subscription(membership.stripe_subscription_id)
    invoice = payloads.invoice(
        id=subscription.latest_invoice_id,
        subscription=subscription.id,
        customer=subscription.customer_id,
        status="open",
        billing_reason="subscription_create",
    )
    for _ in range(2):
        post_event(client, payloads.event("invoice.payment_failed", invoice))
    wait_until(
        lambda: (
            StripeEvent.objects.filter(
                type="invoice.payment_failed", status=EventStatus.PROCESSED
            ).count()
            >= 2
        )
    )
    membership.refresh_from_db()
    assert membership.card_failures == 1
    assert CardCheckFailure.objects.get().stage == "payment"


def test_a_card_update_form_is_closed_after_the_bound_and_the_membership_goes_on(
    client, tasks, stripe_webhooks, settings
):
    settings.DONATION_MAX_CARD_ATTEMPTS = 3
    member = UserFactory()
    client.force_login(member)
    membership = join(client)
    secret = client.post(reverse("members:card_start")).json()["setupClientSecret"]

    decline_at_setup(secret, *DECLINED_AT_SETUP)

    card_failures(membership, 3)
    finishing = client.post(reverse("members:card_finish"))
    assert finishing.status_code == 400
    assert finishing.json() == {"error": CARD_ATTEMPTS_USED_UP}
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert client.post(reverse("members:card_start")).status_code == 200  # a new form
