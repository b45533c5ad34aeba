"""Journey 1, end to end: a guest gives once from an article and gets one receipt.

The reader's browser is played by tests.support.stripejs (the requests
localstripe's Stripe.js makes); localstripe delivers its signed webhooks to
a live server; the Celery worker (or eager tasks) writes the ledger and
sends the receipt.
"""

from django.urls import reverse

from payments.models import Donation, Payment, StripeEvent
from payments.states import DonationStatus, PaymentKind
from tests.factories import ArticleFactory
from tests.support.processes import wait_until
from tests.support.stripejs import (
    CARD_3DS,
    CARD_DECLINED_ON_CHARGE,
    CARD_OK,
    confirm_card_payment,
    confirm_card_setup,
)


def start_gift(client, **fields) -> dict:
    data = {"amount": "25", "currency": "EUR", "email": "guest@example.org", **fields}
    response = client.post(reverse("payments:give_start"), data)
    assert response.status_code == 200, response.content
    return response.json()


def receipts_to(mailoutbox, address: str) -> list:
    return [m for m in mailoutbox if address in m.to and "receipt" in m.subject.lower()]


def test_guest_gives_once_from_an_article_with_3d_secure_and_gets_one_receipt(
    client, tasks, stripe_webhooks, mailoutbox
):
    article = ArticleFactory(slug="energy-grid", title="How the grid holds")

    page = client.get(reverse("payments:give") + "?from=energy-grid&utm_source=newsletter")
    assert page.status_code == 200
    assert "How the grid holds" in page.content.decode()

    gift = start_gift(
        client,
        email="Guest@Example.org",
        name="Olena",
        source="energy-grid",
        utm_source="newsletter",
        utm_campaign="winter-appeal",
    )
    assert confirm_card_setup(gift["setupClientSecret"], CARD_3DS)["status"] == "succeeded"

    paid = client.post(gift["payUrl"]).json()
    assert paid["status"] == "requires_action"
    assert confirm_card_payment(paid["clientSecret"])["status"] == "succeeded"
    paid = client.post(gift["payUrl"]).json()
    assert paid["status"] == "succeeded"

    thanks = client.get(gift["thanksUrl"]).content.decode()
    assert "Thank you, Olena" in thanks
    assert "€25.00" in thanks

    payment = wait_until(lambda: Payment.objects.select_related("donor").first())
    assert (payment.amount, payment.currency, payment.kind) == (2500, "EUR", PaymentKind.ONE_TIME)
    assert payment.donor.email == "guest@example.org"
    assert payment.article_slug == article.slug
    assert (payment.utm_source, payment.utm_campaign) == ("newsletter", "winter-appeal")
    assert payment.stripe_payment_intent_id.startswith("pi_")
    assert payment.stripe_charge_id.startswith("ch_")
    assert payment.fee is not None and payment.net == payment.amount - payment.fee

    (receipt,) = wait_until(lambda: receipts_to(mailoutbox, "guest@example.org"))
    assert payment.receipt.number in receipt.subject
    assert "€25.00" in receipt.body
    assert "€25.00" in receipt.alternatives[0][0]
    wait_until(lambda: StripeEvent.objects.filter(status="processed").exists())
    assert Payment.objects.count() == 1
    assert len(receipts_to(mailoutbox, "guest@example.org")) == 1
    donation = Donation.objects.get()
    assert donation.status == DonationStatus.SUCCEEDED


def test_declined_card_can_be_replaced_by_another_and_only_one_charge_is_recorded(
    client, tasks, stripe_webhooks, mailoutbox
):
    gift = start_gift(client, amount="10", currency="USD", cover_fees="on")

    confirm_card_setup(gift["setupClientSecret"], CARD_DECLINED_ON_CHARGE)
    declined = client.post(gift["payUrl"]).json()
    assert declined["status"] == "failed"
    assert "declined" in declined["error"].lower()
    assert declined["setupClientSecret"] != gift["setupClientSecret"]
    assert Donation.objects.get().status == DonationStatus.FAILED

    confirm_card_setup(declined["setupClientSecret"], CARD_OK)
    paid = client.post(gift["payUrl"]).json()
    assert paid["status"] == "succeeded"

    payment = wait_until(lambda: Payment.objects.first())
    donation = Donation.objects.get()
    assert donation.fee_cover > 0
    assert payment.amount == 1000 + donation.fee_cover
    assert donation.attempts == 2
    wait_until(lambda: receipts_to(mailoutbox, "guest@example.org"))
    assert Payment.objects.count() == 1


def test_paying_twice_for_the_same_gift_charges_once(client, tasks, stripe_webhooks):
    gift = start_gift(client)
    confirm_card_setup(gift["setupClientSecret"], CARD_OK)

    first = client.post(gift["payUrl"]).json()
    second = client.post(gift["payUrl"]).json()

    assert first["status"] == second["status"] == "succeeded"
    wait_until(lambda: Payment.objects.exists())
    assert Donation.objects.get().attempts == 1
