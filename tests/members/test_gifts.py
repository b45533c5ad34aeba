"""Journey 9: a reader gives a membership to another address; the recipient claims it.

The card is paid for real through localstripe; its signed webhooks reach a
live server, and the worker (or eager tasks) records the payment, marks the
gift paid and emails the recipient on the chosen day.
"""

from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.urls import reverse
from django.utils import timezone

from members.models import GiftMembership, LevelAmount, Membership, MembershipLevel
from members.selectors import has_member_perks
from members.services import gifts
from members.states import GIFT_MONTHS, GiftStatus, MembershipKind, MembershipStatus
from payments import stripe_gateway as gateway
from payments.models import Donation, Payment
from payments.states import PaymentKind
from tests.factories import GiftMembershipFactory, UserFactory
from tests.support.processes import wait_until
from tests.support.stripejs import (
    CARD_3DS,
    CARD_DECLINED_ON_CHARGE,
    CARD_OK,
    confirm_card_payment,
    create_payment_method,
)

MESSAGE = 'Happy birthday, Sam & Alex! "Read well"\nLove, Jo'


@pytest.fixture
def levels(db):
    """Two levels: the cheapest monthly EUR price (5.00) sets the gift's standard price."""
    supporter = MembershipLevel.objects.create(name="Supporter", slug="supporter", position=1)
    insider = MembershipLevel.objects.create(name="Insider", slug="insider", position=2)
    LevelAmount.objects.create(level=supporter, currency="EUR", interval="month", amount=500)
    LevelAmount.objects.create(level=insider, currency="EUR", interval="month", amount=1500)
    LevelAmount.objects.create(level=supporter, currency="EUR", interval="year", amount=5000)


def gift_fields(**fields) -> dict:
    return {
        "months": "3",
        "currency": "EUR",
        "email": "giver@example.org",
        "name": "Jo Giver",
        "recipient_email": "friend@example.org",
        "recipient_name": "Sam",
        "message": MESSAGE,
        "send_on": timezone.localdate().isoformat(),
        **fields,
    }


def card(number: str = CARD_OK) -> dict:
    """The pay call's form with the card entered in the page (Stripe.js createPaymentMethod)."""
    return {"payment_method": create_payment_method(number, email="giver@example.org")}


def buy_gift(client, **fields) -> GiftMembership:
    """The gift page's calls: start, enter the card (Stripe.js), pay with payments' call."""
    response = client.post(reverse("gifts:start"), gift_fields(**fields))
    assert response.status_code == 200, response.content
    started = response.json()
    assert started["payUrl"].startswith("/give/")
    paid = client.post(started["payUrl"], card(CARD_OK)).json()
    assert paid["status"] == "succeeded", paid
    return GiftMembership.objects.get(public_id=started["gift"])


def paid_gift(gift: GiftMembership, *statuses: str) -> GiftMembership:
    """Wait until the webhook has moved the gift on."""
    return wait_until(
        lambda: GiftMembership.objects.filter(pk=gift.pk, status__in=statuses).first()
    )


def emails_to(mailoutbox, address: str, word: str) -> list:
    return [m for m in mailoutbox if address in m.to and word in m.subject.lower()]


def html_of(message) -> str:
    (html, mimetype) = message.alternatives[0]
    assert mimetype == "text/html"
    return html


def test_gift_page_shows_the_standard_prices(client, levels):
    page = client.get(reverse("gifts:give"))

    assert page.status_code == 200
    assert page.context["page_data"]["prices"]["EUR"] == {1: 500, 3: 1500, 6: 3000, 12: 6000}
    assert reverse("gifts:start") in page.content.decode()


def test_guest_gives_three_months_recipient_is_emailed_and_claims_with_a_new_account(
    client, tasks, stripe_webhooks, mailoutbox, levels
):
    gift = buy_gift(client)

    gift = paid_gift(gift, GiftStatus.SENT)
    assert gift.sent_at is not None and gift.months == 3
    payment = wait_until(lambda: Payment.objects.filter(kind=PaymentKind.GIFT).first())
    assert (payment.amount, payment.currency) == (1500, "EUR")
    assert payment.donor.email == "giver@example.org"
    assert payment.donation == gift.donation
    (receipt,) = wait_until(lambda: emails_to(mailoutbox, "giver@example.org", "receipt"))
    assert "Gift membership" in html_of(receipt)
    (invite,) = wait_until(lambda: emails_to(mailoutbox, "friend@example.org", "gave you"))
    assert invite.subject.startswith("Jo Giver gave you a membership")
    claim_path = reverse("gifts:claim", args=[gift.claim_token])
    assert claim_path in invite.body and MESSAGE in invite.body
    html = html_of(invite)
    assert claim_path in html
    assert "Sam &amp; Alex! &quot;Read well&quot;<br>Love, Jo" in html
    thanks = client.get(reverse("gifts:thanks", args=[gift.public_id])).content.decode()
    assert "3-month membership" in thanks and "emailed them" in thanks
    # Paying and the webhook again changes nothing: the recipient is emailed once.
    gifts.gift_paid(gift.donation.public_id)
    assert GiftMembership.objects.get(pk=gift.pk).status == GiftStatus.SENT

    signed_out = client.get(claim_path)
    assert "friend@example.org" in signed_out.content.decode()
    assert reverse("account_signup") + "?next=" in signed_out.content.decode()
    friend = UserFactory(email="friend@example.org")
    client.force_login(friend)
    assert not has_member_perks(friend)
    assert "Claim my membership" in client.get(claim_path).content.decode()
    claimed = client.post(claim_path)

    assert claimed.status_code == 302
    assert has_member_perks(friend)
    membership = Membership.objects.get(user=friend)
    assert (membership.kind, membership.status, membership.level.slug) == (
        MembershipKind.GIFT,
        MembershipStatus.ACTIVE,
        "supporter",  # the level whose monthly price the gift's price is built on
    )
    expected_end = timezone.now() + relativedelta(months=3)
    assert abs(membership.ends_at - expected_end) < timedelta(minutes=1)
    gift.refresh_from_db()
    assert (gift.status, gift.membership) == (GiftStatus.CLAIMED, membership)
    assert gift.claimed_at is not None
    wait_until(lambda: emails_to(mailoutbox, "friend@example.org", "welcome"))
    assert len(emails_to(mailoutbox, "friend@example.org", "gave you")) == 1
    assert len(emails_to(mailoutbox, "giver@example.org", "receipt")) == 1


def test_claiming_twice_or_by_another_account_gives_one_membership(
    client, tasks, stripe_webhooks, mailoutbox, levels
):
    gift = paid_gift(buy_gift(client, recipient_email="twice@example.org"), GiftStatus.SENT)
    claim_path = reverse("gifts:claim", args=[gift.claim_token])
    # The recipient claims with another address: any account holding the link may.
    recipient = UserFactory(email="other-address@example.org")
    client.force_login(recipient)

    client.post(claim_path)
    again = client.post(claim_path, follow=True)

    assert again.status_code == 200
    assert Membership.objects.filter(kind=MembershipKind.GIFT).count() == 1
    assert Membership.objects.get(kind=MembershipKind.GIFT).user == recipient

    someone_else = UserFactory(email="someone@example.org")
    client.force_login(someone_else)
    refused = client.post(claim_path)

    assert refused.status_code == 200
    assert "already been claimed" in refused.content.decode()
    assert Membership.objects.filter(kind=MembershipKind.GIFT).count() == 1
    assert not has_member_perks(someone_else)
    assert len(emails_to(mailoutbox, "other-address@example.org", "welcome")) <= 1


def test_a_gift_for_a_later_day_is_sent_on_that_day_only(
    client, tasks, stripe_webhooks, mailoutbox, levels
):
    today = timezone.localdate()
    send_on = today + timedelta(days=10)
    gift = buy_gift(client, recipient_email="later@example.org", send_on=send_on.isoformat())

    gift = paid_gift(gift, GiftStatus.PAID)
    wait_until(lambda: emails_to(mailoutbox, "giver@example.org", "receipt"))
    assert gifts.send_due_gifts(today=today) == 0
    assert gifts.send_due_gifts(today=send_on - timedelta(days=1)) == 0
    assert emails_to(mailoutbox, "later@example.org", "gave you") == []
    assert GiftMembership.objects.get(pk=gift.pk).sent_at is None

    assert gifts.send_due_gifts(today=send_on) == 1
    assert gifts.send_due_gifts(today=send_on + timedelta(days=1)) == 0

    wait_until(lambda: emails_to(mailoutbox, "later@example.org", "gave you"))
    gift.refresh_from_db()
    assert gift.status == GiftStatus.SENT and gift.sent_at is not None
    assert len(emails_to(mailoutbox, "later@example.org", "gave you")) == 1


def test_the_beat_task_sends_gifts_whose_day_has_passed(
    client, tasks, stripe_webhooks, mailoutbox, levels
):
    from members.tasks import send_due_gifts

    later = (timezone.localdate() + timedelta(days=30)).isoformat()
    gift = paid_gift(buy_gift(client, recipient_email="due@example.org", send_on=later), "paid")
    GiftMembership.objects.filter(pk=gift.pk).update(
        send_on=timezone.localdate() - timedelta(days=1)
    )

    send_due_gifts.delay()  # as the beat schedule does

    wait_until(lambda: emails_to(mailoutbox, "due@example.org", "gave you"))
    assert GiftMembership.objects.get(pk=gift.pk).status == GiftStatus.SENT
    send_due_gifts.delay()
    assert len(emails_to(mailoutbox, "due@example.org", "gave you")) == 1


def test_a_giver_may_pay_more_than_the_standard_price(
    client, tasks, stripe_webhooks, mailoutbox, levels
):
    gift = paid_gift(buy_gift(client, months="12", amount="80"), GiftStatus.SENT)

    assert (gift.donation.amount, gift.donation.currency, gift.months) == (8000, "EUR", 12)
    payment = wait_until(lambda: Payment.objects.filter(kind=PaymentKind.GIFT).first())
    assert payment.amount == 8000


@pytest.mark.parametrize("months", GIFT_MONTHS)
def test_a_gift_membership_never_sells_below_its_price_for_the_months(client, levels, months):
    price = 500 * months  # the cheapest level is €5 a month
    below = f"{(price - 1) / 100:.2f}"

    response = client.post(reverse("gifts:start"), gift_fields(months=str(months), amount=below))

    assert response.status_code == 400
    (error,) = response.json()["errors"]["amount"]
    assert f"costs at least €{price / 100:.2f}" in error
    assert not Donation.objects.exists()
    assert not GiftMembership.objects.exists()


def test_a_year_for_one_euro_is_refused(client, levels):
    response = client.post(reverse("gifts:start"), gift_fields(months="12", amount="1"))

    assert response.status_code == 400
    assert not Donation.objects.exists()


@pytest.mark.parametrize(
    "field, value",
    [
        ("months", "2"),
        ("message", "Hi <script>alert(1)</script>"),
        ("send_on", (timezone.localdate() - timedelta(days=1)).isoformat()),
        ("send_on", (timezone.localdate() + timedelta(days=400)).isoformat()),
        ("recipient_email", "not-an-email"),
        ("recipient_name", "<b>Sam</b>"),
        ("amount", "0.50"),
    ],
)
def test_bad_gift_details_are_refused_and_nothing_is_stored(client, levels, field, value):
    response = client.post(reverse("gifts:start"), gift_fields(**{field: value}))

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Donation.objects.exists()
    assert not GiftMembership.objects.exists()


def test_without_a_price_in_the_currency_the_amount_must_be_typed(client, levels):
    response = client.post(reverse("gifts:start"), gift_fields(currency="USD"))

    assert response.status_code == 400
    assert "amount" in response.json()["errors"]
    assert not Donation.objects.exists()


def test_a_signed_in_member_gives_as_themselves(client, levels, localstripe):
    member = UserFactory(email="member@example.org")
    client.force_login(member)

    response = client.post(reverse("gifts:start"), gift_fields(email="spoof@example.org"))

    assert response.status_code == 200, response.content
    gift = GiftMembership.objects.get()
    assert (gift.donation.donor.email, gift.donation.user) == ("member@example.org", member)
    assert (gift.donation.kind, gift.status) == (PaymentKind.GIFT, GiftStatus.AWAITING_PAYMENT)


def test_an_unpaid_gift_cannot_be_claimed(client, levels, localstripe):
    client.post(reverse("gifts:start"), gift_fields())
    gift = GiftMembership.objects.get()
    client.force_login(UserFactory())

    response = client.post(reverse("gifts:claim", args=[gift.claim_token]))

    assert "not been paid" in response.content.decode()
    assert not Membership.objects.exists()


def test_an_unknown_claim_token_is_not_found(client, db):
    assert client.get(reverse("gifts:claim", args=["no-such-token"])).status_code == 404
    client.force_login(UserFactory())
    assert client.post(reverse("gifts:claim", args=["no-such-token"])).status_code == 404


def test_a_declined_gift_card_shows_as_failed_until_another_card_pays(
    client, tasks, stripe_webhooks, mailoutbox, levels
):
    started = client.post(reverse("gifts:start"), gift_fields()).json()
    declined = client.post(started["payUrl"], card(CARD_DECLINED_ON_CHARGE)).json()
    assert declined["status"] == "failed"
    assert declined["error"] == gateway.card_message("card_declined")  # our words
    assert declined["anotherCard"] is True
    gift = paid_gift(GiftMembership.objects.get(public_id=started["gift"]), GiftStatus.FAILED)
    assert not emails_to(mailoutbox, "friend@example.org", "gave you")

    assert client.post(started["payUrl"], card(CARD_OK)).json()["status"] == "succeeded"

    paid_gift(gift, GiftStatus.SENT)
    wait_until(lambda: emails_to(mailoutbox, "friend@example.org", "gave you"))
    assert Payment.objects.filter(kind=PaymentKind.GIFT).count() == 1


def test_a_gift_paid_with_a_3ds_card_asks_the_bank_once(
    client, tasks, stripe_webhooks, stripe_proxy, mailoutbox, levels
):
    """The card is checked once, on the gift's PaymentIntent: the pay call asks for 3-D
    Secure, the page runs it once, and the next pay call (no card) finds it paid. No
    SetupIntent, so no second challenge."""
    started = client.post(reverse("gifts:start"), gift_fields()).json()
    assert "setupClientSecret" not in started

    asked = client.post(started["payUrl"], card(CARD_3DS)).json()

    assert asked["status"] == "requires_action", asked
    gift = GiftMembership.objects.get(public_id=started["gift"])
    intent = gift.donation.stripe_payment_intent_id
    assert asked["clientSecret"].startswith(intent + "_secret_")
    assert confirm_card_payment(asked["clientSecret"])["status"] == "succeeded"
    done = client.post(started["payUrl"]).json()
    assert done["status"] == "succeeded", done
    assert stripe_proxy.writes("/v1/setup_intents") == []
    made = [
        w for w in stripe_proxy.writes("/v1/payment_intents") if w.path == "/v1/payment_intents"
    ]
    assert len(made) == 1  # made by the first pay call; the second one only reads it
    paid_gift(gift, GiftStatus.SENT)
    payment = wait_until(lambda: Payment.objects.filter(kind=PaymentKind.GIFT).first())
    assert (payment.amount, payment.stripe_payment_intent_id) == (1500, intent)
    wait_until(lambda: emails_to(mailoutbox, "friend@example.org", "gave you"))


def test_a_gift_refunded_before_its_payment_event_is_processed_is_never_sent(db):
    """Stripe's events out of order: the refund's handler records the payment from the
    PaymentIntent and ends the gift; the payment's own event, late, must not send it."""
    gift = GiftMembershipFactory(status=GiftStatus.AWAITING_PAYMENT, sent_at=None)

    gifts.end_refunded_gift(gift.donation_id)
    gifts.gift_paid(gift.donation.public_id)

    gift.refresh_from_db()
    assert (gift.status, gift.sent_at) == (GiftStatus.REFUNDED, None)
