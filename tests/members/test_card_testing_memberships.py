"""Card testing on the membership card forms: joining and updating the card.

A join takes each card the page enters (Stripe.js `createPaymentMethod`) on our
confirm call, which puts it on the customer (the bank may refuse it there) and
charges the first invoice with it: either refusal is a failed card check, a declined
first payment counted by that call and by Stripe's `invoice.payment_failed` (also
when the card was tried directly at Stripe, on the client secret handed out for 3-D
Secure).
The card update form still sets a card up on its SetupIntent, confirmed by Stripe.js
directly with Stripe: its declines are counted from Stripe's events. Each join, and
each card form opened, has a bounded number of failed card checks; past the bound it
is closed at Stripe and the member starts again. A live membership is never ended
for it.
"""

from django.urls import reverse

from members.models import Membership
from members.services.card_checks import CARD_ATTEMPTS_USED_UP
from members.services.stripe_sync import META_MEMBERSHIP
from members.states import MembershipStatus
from payments import card_testing
from payments import stripe_gateway as gateway
from payments.models import CardCheckFailure, StripeEvent
from payments.states import EventStatus
from payments.stripe_gateway.errors import DECLINED
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
    create_payment_method,
)
from tests.support.webhooks import post_event

JOIN = {"amount": "10", "currency": "USD", "interval": "month"}
DECLINED_AT_SETUP = ["4000000000000002", "4000000000009995", "4000000000009987"]
# Refused by the bank as soon as Stripe puts them on a customer (and when charged).
DECLINED_WHEN_ATTACHED = DECLINED_AT_SETUP


def decline_at_setup(secret: str, *numbers: str) -> None:
    for number in numbers:
        answer = confirm_card_setup(secret, number)
        assert answer["error"]["code"] == "card_declined", answer


def confirm_with(client, started: dict, number: str) -> dict:
    """The join page's confirm call with a card of this number entered: its answer."""
    response = client.post(started["confirmUrl"], {"payment_method": create_payment_method(number)})
    assert response.status_code == 200, response.content
    return response.json()


def card_failures(membership: Membership, count: int) -> Membership:
    """Wait until the worker has counted `count` failed card checks on the membership."""
    return wait_until(
        lambda: Membership.objects.filter(pk=membership.pk, card_failures__gte=count).first()
    )


def first_invoice_failed(client, membership: Membership) -> None:
    """Stripe's `invoice.payment_failed` for the join's first invoice, in its current shape."""
    subscription = gateway.retrieve_subscription(membership.stripe_subscription_id)
    invoice = payloads.invoice(
        id=subscription.latest_invoice_id,
        subscription=subscription.id,
        customer=subscription.customer_id,
        status="open",
        billing_reason="subscription_create",
    )
    assert post_event(client, payloads.event("invoice.payment_failed", invoice)).status_code == 200


def processed(type: str, count: int) -> None:
    wait_until(
        lambda: StripeEvent.objects.filter(type=type, status=EventStatus.PROCESSED).count() >= count
    )


def test_a_join_tried_with_card_after_card_is_closed_after_the_bound_and_starts_again(
    client, tasks, stripe_webhooks, settings
):
    settings.DONATION_MAX_CARD_ATTEMPTS = 3
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    membership = Membership.objects.get(public_id=started["membership"])

    # The first card's payment is declined; the next two are refused as Stripe puts them
    # on the customer, before any payment (Stripe checks a card it attaches).
    cards = [CARD_DECLINED_ON_CHARGE, *DECLINED_WHEN_ATTACHED[:2]]
    answers = [confirm_with(client, started, number) for number in cards]

    assert [(answer["status"], answer["anotherCard"]) for answer in answers] == [
        ("failed", True),
        ("failed", True),
        ("failed", False),
    ]
    assert answers[2]["error"] == f"{DECLINED} {card_testing.START_AGAIN}"
    membership.refresh_from_db()
    assert membership.card_failures == 3
    counted = CardCheckFailure.objects.values_list("card_fingerprint", flat=True)
    assert len(set(counted)) == 3  # three cards, each counted once
    # The unpaid subscription is ended at Stripe: its first invoice takes no more cards.
    subscription_id = membership.stripe_subscription_id
    assert gateway.retrieve_subscription(subscription_id).status == "canceled"
    confirming = confirm_with(client, started, CARD_OK)
    assert (confirming["status"], confirming["error"], confirming["anotherCard"]) == (
        "failed",
        CARD_ATTEMPTS_USED_UP,
        False,
    )
    membership.refresh_from_db()
    assert (membership.stripe_subscription_id, membership.has_perks) == (subscription_id, False)
    assert gateway.retrieve_subscription(subscription_id).status == "canceled"

    again = client.post(reverse("members:join_start"), JOIN).json()
    assert again["membership"] != started["membership"]
    assert Membership.objects.get(public_id=again["membership"]).card_failures == 0
    assert confirm_with(client, again, CARD_OK)["status"] == "succeeded"


def test_a_declined_first_payment_counts_once_for_its_join(client, tasks, stripe_webhooks):
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()

    declined = confirm_with(client, started, CARD_DECLINED_ON_CHARGE)

    assert (declined["status"], declined["error"], declined["anotherCard"]) == (
        "failed",
        DECLINED,
        True,
    )
    membership = Membership.objects.get(public_id=started["membership"])
    assert membership.card_failures == 1  # our confirm call counted it
    first_invoice_failed(client, membership)  # and Stripe says so too
    processed("invoice.payment_failed", 1)
    membership.refresh_from_db()
    assert membership.card_failures == 1
    failure = CardCheckFailure.objects.get()
    assert (failure.stage, failure.user_id) == ("payment", membership.user_id)
    assert failure.card_fingerprint
    # Another card may follow, on the same join
    assert confirm_with(client, started, CARD_OK)["status"] == "succeeded"


def test_a_first_payment_failed_directly_at_stripe_counts_for_its_join_once(
    client, tasks, stripe_webhooks
):
    """The client secret handed out for 3-D Secure lets the browser confirm the first
    invoice's payment with Stripe itself: Stripe's `invoice.payment_failed` counts it,
    and the page asking again (with no card) counts it no more."""
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    waiting = confirm_with(client, started, CARD_3DS)
    assert waiting["status"] == "requires_action"

    confirm_card_payment(waiting["clientSecret"], authenticate=False)

    membership = card_failures(Membership.objects.get(public_id=started["membership"]), 1)
    for _ in range(2):
        first_invoice_failed(client, membership)
    processed("invoice.payment_failed", 3)  # the emulator's own, and ours twice
    # The page asks where the payment stands after the bank's check (Stripe.js said no).
    assert client.post(started["confirmUrl"]).json()["status"] == "failed"
    membership.refresh_from_db()
    assert membership.card_failures == 1
    assert CardCheckFailure.objects.get().stage == "payment"


def test_a_setup_failure_event_for_a_card_update_form_counts_once_however_often_delivered(
    client, tasks, localstripe
):
    """A card update form's SetupIntent is confirmed directly at Stripe: Stripe's
    `setup_intent.setup_failed` (in its current shape) is how its declines are counted."""
    client.force_login(UserFactory())
    membership = join(client)
    assert client.post(reverse("members:card_start")).status_code == 200
    membership.refresh_from_db()
    setup = payloads.setup_intent(
        id=membership.stripe_setup_intent_id,
        metadata={META_MEMBERSHIP: str(membership.public_id)},
        error="Your card was declined.",
        card="a1b2c3d4e5f60718",
        usage="off_session",
    )
    event = payloads.event("setup_intent.setup_failed", setup)

    for delivery in (event, event, payloads.event("setup_intent.setup_failed", setup)):
        assert post_event(client, delivery).status_code == 200
    processed("setup_intent.setup_failed", 2)

    failure = CardCheckFailure.objects.get()
    assert (failure.stage, failure.card_fingerprint) == ("setup", "a1b2c3d4e5f60718")
    membership.refresh_from_db()
    assert membership.card_failures == 1
    assert membership.status == MembershipStatus.ACTIVE


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
    assert CardCheckFailure.objects.filter(stage="setup").count() == 3
    finishing = client.post(reverse("members:card_finish"))
    assert finishing.status_code == 400
    assert finishing.json() == {"error": CARD_ATTEMPTS_USED_UP}
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert client.post(reverse("members:card_start")).status_code == 200  # a new form
