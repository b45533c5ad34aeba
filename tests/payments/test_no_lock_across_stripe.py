"""No row stays locked while Stripe is asked something (payments/services/__init__.py).

Each test holds Stripe's answer to one request of an operation (the test proxy forwards
it, then waits before answering) and, while the operation waits for it, locks the row
the operation is about from another database connection with NOWAIT: that succeeds only
if nobody holds it. The operation then completes as usual.

Services run in a thread of their own here (their own database connection), as a
web request or a Celery task would; the test's connection is the other one.
"""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse

from members.models import Membership
from members.services import checkout
from members.states import MembershipStatus
from payments import stripe_gateway as gateway
from payments.models import Donation, Payment, Receipt, Refund
from payments.services import donations, ledger, refunds
from payments.states import DonationStatus, RefundStatus
from tests.factories import UserFactory
from tests.support.processes import wait_until
from tests.support.stripejs import CARD_DECLINED_ON_CHARGE, create_payment_method

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="NOWAIT row locks need PostgreSQL"
    ),
]

HELD = 1.0  # seconds Stripe's answer is held: less than the client's 2 s (stripe_proxy)


class Running:
    """A service call running in its own thread, with its own database connection."""

    def __init__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = function(*args, **kwargs)
            except BaseException as exc:  # handed to the test by `outcome()`
                self.error = exc
            finally:
                connections.close_all()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def outcome(self) -> Any:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the service call did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def lock_now(model, pk: int) -> None:
    """Lock the row from the test's own connection, failing at once if anyone holds it."""
    with transaction.atomic():
        model.objects.select_for_update(nowait=True).get(pk=pk)


def while_held(stripe_proxy, path: str, running: Running, model, pk: int) -> None:
    """Once the held request has reached Stripe, the row is free while the call waits."""
    wait_until(lambda: stripe_proxy.writes(path), timeout=15)
    lock_now(model, pk)  # raises DatabaseError ("could not obtain lock") if the row is locked
    assert running.thread.is_alive(), "the call was no longer waiting for Stripe"


def started_gift(client, email: str = "held@example.org") -> Donation:
    response = client.post(
        reverse("payments:give_start"), {"amount": "25", "currency": "EUR", "email": email}
    )
    assert response.status_code == 200, response.content
    return Donation.objects.get(public_id=response.json()["donation"])


def started_join(client) -> Membership:
    client.force_login(UserFactory())
    response = client.post(
        reverse("members:join_start"), {"amount": "10", "currency": "USD", "interval": "month"}
    )
    assert response.status_code == 200, response.content
    return Membership.objects.get(public_id=response.json()["membership"])


def test_paying_a_gift_leaves_it_unlocked_while_stripe_charges_the_card(client, stripe_proxy):
    donation = started_gift(client)
    card = create_payment_method()
    stripe_proxy.delay_next(HELD, path="/v1/payment_intents")

    paying = Running(donations.pay_donation, donation.public_id, card)
    while_held(stripe_proxy, "/v1/payment_intents", paying, Donation, donation.pk)

    assert paying.outcome().status == "succeeded"
    donation.refresh_from_db()
    assert (donation.status, donation.attempts) == (DonationStatus.SUCCEEDED, 1)
    assert donation.stripe_payment_intent_id
    assert len(stripe_proxy.forwarded_writes("/v1/payment_intents")) == 1


def test_a_refund_leaves_the_payment_unlocked_while_stripe_refunds(client, stripe_proxy):
    donation = started_gift(client)
    assert donations.pay_donation(donation.public_id, create_payment_method()).status == "succeeded"
    donation.refresh_from_db()
    payment = ledger.record_intent_payment(
        gateway.retrieve_payment_intent(donation.stripe_payment_intent_id)
    )
    stripe_proxy.delay_next(HELD, path="/v1/refunds")

    refunding = Running(refunds.refund_payment, payment, amount=1000, request_key="held-refund")
    while_held(stripe_proxy, "/v1/refunds", refunding, Payment, payment.pk)

    refund = refunding.outcome()
    assert (refund.amount, refund.status) == (1000, RefundStatus.PENDING)  # until its event
    payment.refresh_from_db()
    assert payment.amount_refunded == 0
    assert Refund.objects.filter(payment=payment).count() == 1


def test_confirming_a_membership_leaves_it_unlocked_while_stripe_subscribes(client, stripe_proxy):
    membership = started_join(client)
    card = create_payment_method()
    # The first /v1/subscriptions request looks for an earlier subscription, the second
    # creates it with the card (and pays its first invoice): both answers are held.
    stripe_proxy.delay_next(HELD, path="/v1/subscriptions")
    stripe_proxy.delay_next(HELD, path="/v1/subscriptions")

    confirming = Running(checkout.confirm_membership, membership, card)
    while_held(stripe_proxy, "/v1/subscriptions", confirming, Membership, membership.pk)

    assert confirming.outcome().status == "succeeded"
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert membership.stripe_subscription_id
    assert len(stripe_proxy.forwarded_writes("/v1/subscriptions")) == 1


# --- Duplicates at once stay safe without the lock across Stripe ---------------------


def test_a_double_click_on_pay_charges_once(client, stripe_proxy):
    donation = started_gift(client)
    card = create_payment_method()  # both requests send the card the page entered
    stripe_proxy.delay_next(0.5, path="/v1/payment_intents")

    clicks = [Running(donations.pay_donation, donation.public_id, card) for _ in range(2)]

    assert [click.outcome().status for click in clicks] == ["succeeded", "succeeded"]
    assert len(stripe_proxy.forwarded_writes("/v1/payment_intents")) == 1
    donation.refresh_from_db()
    assert (donation.status, donation.attempts) == (DonationStatus.SUCCEEDED, 1)


def test_the_page_and_the_webhook_at_once_record_one_payment_and_one_receipt(client, stripe_proxy):
    donation = started_gift(client)
    assert donations.pay_donation(donation.public_id, create_payment_method()).status == "succeeded"
    donation.refresh_from_db()
    intent = gateway.retrieve_payment_intent(donation.stripe_payment_intent_id)
    stripe_proxy.delay_next(0.5, path="/v1/charges")  # the first run's read of the charge

    runs = [Running(ledger.record_intent_payment, intent) for _ in range(2)]

    first, second = (run.outcome() for run in runs)
    assert first.pk == second.pk
    payment = Payment.objects.get()
    assert (payment.amount, payment.currency, payment.donation_id) == (2500, "EUR", donation.pk)
    assert Receipt.objects.filter(payment=payment).count() == 1


def test_a_double_click_on_join_subscribes_once(client, stripe_proxy):
    membership = started_join(client)
    card = create_payment_method()  # both requests send the card the page entered

    clicks = [Running(checkout.confirm_membership, membership, card) for _ in range(2)]

    assert [click.outcome().status for click in clicks] == ["succeeded", "succeeded"]
    assert len(stripe_proxy.forwarded_writes("/v1/subscriptions")) == 1
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert Membership.objects.count() == 1


def test_a_request_that_read_the_gift_before_a_decline_never_charges_that_card_again(
    client, stripe_proxy, monkeypatch
):
    """A second click reads the gift (no attempt yet), the first one's decline is recorded,
    and only then does the second go on with the same card: it is the same card attempt
    (the same idempotency key), so Stripe answers it with the first decline, never a
    second charge of that card, and the decline counts once."""
    donation = started_gift(client, email="twice@example.org")
    card = create_payment_method(CARD_DECLINED_ON_CHARGE)
    first_answers: list = []
    clicks: list[str] = []
    entered_card = donations.entered_card

    def first_click_in_between(payment_method_id):
        clicks.append(payment_method_id)
        if len(clicks) == 1:  # the second click has read the gift: the first goes now
            first_answers.append(donations.pay_donation(donation.public_id, payment_method_id))
            recorded = Donation.objects.get(pk=donation.pk)
            assert (recorded.attempts, recorded.status) == (1, DonationStatus.FAILED)
        return entered_card(payment_method_id)

    monkeypatch.setattr(donations, "entered_card", first_click_in_between)

    second = donations.pay_donation(donation.public_id, card)

    assert clicks == [card, card]
    (first,) = first_answers
    assert (first.status, first.another_card) == ("failed", True)
    assert (second.status, second.message, second.another_card) == (
        "failed",
        first.message,
        True,
    )
    assert len(stripe_proxy.writes("/v1/payment_intents")) == 2  # the second one replayed
    assert len(stripe_proxy.forwarded_writes("/v1/payment_intents")) == 1
    donation.refresh_from_db()
    assert (donation.attempts, donation.status, donation.card_failures) == (
        1,
        DonationStatus.FAILED,
        1,
    )
