"""Stripe answering 500, timing out, or not at all: never a double charge, never a trace.

The proxy in front of localstripe honours idempotency keys as Stripe does, so
these tests prove that our keys make retries safe.
"""

from django.urls import reverse

from payments.models import Donation, Donor, Payment
from tests.payments.donations import recorded_payment
from tests.support.stripejs import CARD_OK, confirm_card_setup

GIFT = {"amount": "30", "currency": "EUR", "email": "steady@example.org"}


def start(client) -> dict:
    response = client.post(reverse("payments:give_start"), GIFT)
    assert response.status_code == 200, response.content
    gift = response.json()
    confirm_card_setup(gift["setupClientSecret"], CARD_OK)
    return gift


def intents_in_stripe(proxy) -> set[str]:
    """PaymentIntent creations that reached Stripe (replays excluded), by key."""
    return {r.idempotency_key for r in proxy.forwarded_writes("/v1/payment_intents")}


def test_a_stripe_500_on_charging_is_retried_with_the_same_key_and_charges_once(
    client, tasks, stripe_proxy
):
    gift = start(client)
    stripe_proxy.fail_next(1, path="/v1/payment_intents")

    paid = client.post(gift["payUrl"]).json()

    assert paid["status"] == "succeeded"
    tries = stripe_proxy.writes("/v1/payment_intents")
    assert len(tries) == 2
    assert len({t.idempotency_key for t in tries}) == 1
    assert len(intents_in_stripe(stripe_proxy)) == 1


def test_a_lost_answer_to_a_charge_is_retried_and_replayed_not_charged_twice(
    client, tasks, stripe_proxy
):
    gift = start(client)
    stripe_proxy.delay_next(3, path="/v1/payment_intents")  # longer than the 2 s the client waits

    paid = client.post(gift["payUrl"]).json()

    assert paid["status"] == "succeeded"
    tries = stripe_proxy.writes("/v1/payment_intents")
    assert [t.replayed for t in tries] == [False, True]
    assert len(intents_in_stripe(stripe_proxy)) == 1
    donation = Donation.objects.get()
    assert donation.stripe_payment_intent_id


def test_stripe_down_when_paying_says_so_charges_nothing_and_the_reader_can_retry(
    client, tasks, stripe_proxy
):
    gift = start(client)
    stripe_proxy.fail_next(10, path="/v1/payment_intents")

    response = client.post(gift["payUrl"])

    assert response.status_code == 502
    assert "You have not been charged" in response.json()["error"]
    assert "Traceback" not in response.content.decode()
    assert intents_in_stripe(stripe_proxy) == set()
    donation = Donation.objects.get()
    assert (donation.attempts, donation.stripe_payment_intent_id) == (0, None)

    stripe_proxy.recover()
    paid = client.post(gift["payUrl"]).json()

    assert paid["status"] == "succeeded"
    assert len(intents_in_stripe(stripe_proxy)) == 1


def test_stripe_down_when_starting_a_gift_stores_nothing_and_answers_clearly(
    client, db, stripe_proxy
):
    stripe_proxy.fail_next(10)

    response = client.post(reverse("payments:give_start"), GIFT)

    assert response.status_code == 502
    assert "try again" in response.json()["error"]
    assert not Donor.objects.exists()
    assert not Donation.objects.exists()


def test_a_gift_paid_through_a_flaky_stripe_still_gets_one_ledger_row(client, tasks, stripe_proxy):
    """The webhook never comes here; reconciliation through the same flaky API recovers it."""
    from django.core.management import call_command

    gift = start(client)
    stripe_proxy.fail_next(1, path="/v1/payment_intents")
    client.post(gift["payUrl"])
    stripe_proxy.fail_next(1, path="/v1/events")

    call_command("reconcile_stripe")
    call_command("reconcile_stripe")

    payment = recorded_payment()
    assert Payment.objects.count() == 1
    assert payment.amount == 3000


def test_a_gift_sent_again_after_a_stripe_error_is_paid_without_confirming_the_card_twice(
    client, tasks, stripe_proxy
):
    gift = start(client)  # the card is confirmed once, in the browser
    setup_id = gift["setupClientSecret"].split("_secret_")[0]
    stripe_proxy.fail_next(10, path="/v1/payment_intents")

    failed = client.post(gift["payUrl"])
    stripe_proxy.recover()
    paid = client.post(gift["payUrl"]).json()  # what the page does on a retry

    assert failed.status_code == 502
    assert paid["status"] == "succeeded"
    assert len(stripe_proxy.writes(f"/v1/setup_intents/{setup_id}/confirm")) == 1
    assert len(intents_in_stripe(stripe_proxy)) == 1
    again = confirm_card_setup(gift["setupClientSecret"], CARD_OK)
    assert again["error"]["code"] == "setup_intent_unexpected_state"
