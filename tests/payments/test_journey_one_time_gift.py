"""Journey 1, end to end: a guest gives once from an article and gets one receipt.

The reader's browser is played by tests.support.stripejs (the requests
Stripe.js makes: the card entered as a PaymentMethod, then 3-D Secure if the
bank asks); localstripe delivers its signed webhooks to a live server; the
Celery worker (or eager tasks) writes the ledger and sends the receipt.
"""

from django.urls import reverse

from payments import stripe_gateway as gateway
from payments.models import Donation, Payment, StripeEvent
from payments.states import DonationStatus, PaymentKind
from tests.factories import ArticleFactory
from tests.support.processes import wait_until
from tests.support.stripejs import (
    CARD_3DS,
    CARD_DECLINED_ON_CHARGE,
    CARD_OK,
    confirm_card_payment,
    create_payment_method,
)


def start_gift(client, **fields) -> dict:
    data = {"amount": "25", "currency": "EUR", "email": "guest@example.org", **fields}
    response = client.post(reverse("payments:give_start"), data)
    assert response.status_code == 200, response.content
    return response.json()


def pay_as_the_page_does(client, gift: dict, card: str) -> tuple[dict, int]:
    """What the page's `settle` does: POST the card entered, then, while the bank asks for
    3-D Secure, run Stripe.js confirmCardPayment and ask again (no card). Returns the last
    answer and how many times the reader was sent to their bank."""
    answer = client.post(gift["payUrl"], {"payment_method": create_payment_method(card)}).json()
    bank_checks = 0
    for _ in range(3):  # the page gives up after three rounds
        if answer["status"] != "requires_action":
            break
        bank_checks += 1
        assert confirm_card_payment(answer["clientSecret"])["status"] == "succeeded"
        answer = client.post(gift["payUrl"]).json()
    return answer, bank_checks


def receipts_to(mailoutbox, address: str) -> list:
    return [m for m in mailoutbox if address in m.to and "receipt" in m.subject.lower()]


def test_guest_gives_once_from_an_article_with_3d_secure_and_gets_one_receipt(
    client, tasks, stripe_webhooks, mailoutbox, stripe_contract
):
    article = ArticleFactory(slug="energy-grid", title="How the grid holds")

    page = client.get(reverse("payments:give") + "?from=energy-grid&utm_source=newsletter")
    assert page.status_code == 200
    assert "How the grid holds" in page.content.decode()

    sent_before = len(stripe_contract.requests)
    gift = start_gift(
        client,
        email="Guest@Example.org",
        name="Olena",
        source="energy-grid",
        utm_source="newsletter",
        utm_campaign="winter-appeal",
    )
    assert "setupClientSecret" not in gift  # no card form to confirm before paying

    paid, bank_checks = pay_as_the_page_does(client, gift, CARD_3DS)

    assert paid["status"] == "succeeded"
    assert bank_checks == 1  # one 3-D Secure, on the payment itself
    sent = [(r.method, r.path) for r in stripe_contract.requests[sent_before:]]
    assert not [path for _, path in sent if path.startswith("/v1/setup_intents")]
    assert len([r for r in sent if r == ("POST", "/v1/payment_intents")]) == 1

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
    assert donation.attempts == 1


def test_a_card_the_bank_does_not_ask_to_check_is_paid_with_no_3d_secure(
    client, tasks, localstripe
):
    gift = start_gift(client)

    paid, bank_checks = pay_as_the_page_does(client, gift, CARD_OK)

    assert (paid["status"], bank_checks) == ("succeeded", 0)


def test_3d_secure_failed_says_so_in_our_words_and_the_same_gift_takes_another_card(
    client, tasks, localstripe
):
    gift = start_gift(client, amount="12", currency="USD")
    asked = client.post(gift["payUrl"], {"payment_method": create_payment_method(CARD_3DS)})
    secret = asked.json()["clientSecret"]

    confirm_card_payment(secret, authenticate=False)  # the reader fails the bank's check
    failed = client.post(gift["payUrl"]).json()  # the page asks where the payment stands
    paid = client.post(gift["payUrl"], {"payment_method": create_payment_method(CARD_OK)})

    assert paid.json()["status"] == "succeeded"
    assert Donation.objects.get().attempts == 2
    assert failed == {
        "status": "failed",
        "clientSecret": None,
        "error": gateway.card_message("payment_intent_authentication_failure"),
        "anotherCard": True,
        "thanksUrl": gift["thanksUrl"],
    }


def test_declined_card_can_be_replaced_by_another_and_only_one_charge_is_recorded(
    client, tasks, stripe_webhooks, mailoutbox
):
    gift = start_gift(client, amount="10", currency="USD", cover_fees="on")

    declined = client.post(
        gift["payUrl"], {"payment_method": create_payment_method(CARD_DECLINED_ON_CHARGE)}
    ).json()
    assert declined["status"] == "failed"
    assert declined["error"] == gateway.card_message("card_declined")
    assert declined["anotherCard"] is True  # the same gift takes another card
    assert "setupClientSecret" not in declined
    assert Donation.objects.get().status == DonationStatus.FAILED

    paid = client.post(gift["payUrl"], {"payment_method": create_payment_method(CARD_OK)}).json()
    assert paid["status"] == "succeeded"

    payment = wait_until(lambda: Payment.objects.first())
    donation = Donation.objects.get()
    assert donation.fee_cover > 0
    assert payment.amount == 1000 + donation.fee_cover
    assert donation.attempts == 2
    wait_until(lambda: receipts_to(mailoutbox, "guest@example.org"))
    assert Payment.objects.count() == 1


def test_paying_without_a_card_asks_for_one_and_charges_nothing(client, tasks, localstripe):
    gift = start_gift(client)

    answer = client.post(gift["payUrl"])

    assert answer.status_code == 400
    assert answer.json()["errors"] == {"card": ["Please enter your card details."]}
    donation = Donation.objects.get()
    assert (donation.attempts, donation.stripe_payment_intent_id) == (0, None)


def test_paying_twice_for_the_same_gift_charges_once(client, tasks, stripe_webhooks):
    gift = start_gift(client)
    card = {"payment_method": create_payment_method(CARD_OK)}

    first = client.post(gift["payUrl"], card).json()
    second = client.post(gift["payUrl"], card).json()
    another_card = client.post(
        gift["payUrl"], {"payment_method": create_payment_method(CARD_OK)}
    ).json()

    assert first["status"] == second["status"] == another_card["status"] == "succeeded"
    wait_until(lambda: Payment.objects.exists())
    assert Donation.objects.get().attempts == 1
    assert Payment.objects.count() == 1
