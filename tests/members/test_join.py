"""Journey 2 in detail: joining with or without an account, bad input, a declined first
card, and nobody reaching someone else's membership by guessing its id."""

import re
import uuid

import pytest
from django.conf import settings
from django.urls import reverse

from members.models import Membership
from members.selectors import has_member_perks
from members.states import MembershipStatus
from payments import card_testing
from payments import stripe_gateway as gateway
from payments.models import CardCheckFailure, Donor, Payment
from tests.factories import PASSWORD, ArticleFactory, UserFactory
from tests.members.memberships import _stripe, join, refreshed
from tests.support.processes import wait_until
from tests.support.stripejs import (
    CARD_3DS,
    CARD_DECLINED_AT_SETUP,
    CARD_DECLINED_ON_CHARGE,
    CARD_OK,
    confirm_card_payment,
    create_payment_method,
)

JOIN = {"amount": "10", "currency": "USD", "interval": "month"}


def card(number: str = CARD_OK) -> dict:
    """The confirm call's form with the card entered in the page (Stripe.js
    createPaymentMethod)."""
    return {"payment_method": create_payment_method(number)}


def first_invoice(membership: Membership) -> dict:
    """The membership's first invoice, as Stripe has it (while it is the latest one)."""
    subscription = _stripe("GET", f"subscriptions/{membership.stripe_subscription_id}")
    return _stripe("GET", f"invoices/{subscription['latest_invoice']}")


@pytest.fixture
def stripe_unreachable(settings):
    """Any Stripe call fails at once: a 400 then proves nothing got past the form."""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0


def test_a_signed_out_reader_joins_on_the_page_itself_with_their_email(client, db):
    page = client.get(reverse("members:join") + "?from=war-diary&interval=year")

    body = page.content.decode()
    assert page.status_code == 200
    assert 'id="join-form"' in body
    assert 'name="email"' in body
    assert reverse("account_signup") + "?next=" not in body
    missing_email = client.post(reverse("members:join_start"), JOIN)
    assert missing_email.status_code == 400
    assert set(missing_email.json()["errors"]) == {"email"}


def test_a_new_reader_signs_up_verifies_and_joins_from_an_article(
    client, tasks, stripe_webhooks, mailoutbox
):
    ArticleFactory(slug="war-diary")
    next_url = reverse("members:join") + "?from=war-diary"
    client.post(
        reverse("account_signup") + "?next=" + next_url,
        {"email": "Fresh@Example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    verification = wait_until(lambda: [m for m in mailoutbox if "fresh@example.org" in m.to])[0]
    confirm_path = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", verification.body)
    client.post(confirm_path.group(1))
    assert client.get(next_url).status_code == 200  # signed in by the confirmation

    membership = join(client, amount="7", currency="EUR", source="war-diary")

    membership = refreshed(membership, status=MembershipStatus.ACTIVE)
    assert membership.user.email == "fresh@example.org"
    assert membership.article_slug == "war-diary"
    payment = wait_until(lambda: Payment.objects.first())
    assert (payment.amount, payment.currency, payment.article_slug) == (700, "EUR", "war-diary")


def test_an_existing_member_joins_yearly_at_a_custom_amount(client, tasks, stripe_webhooks):
    user = UserFactory()
    client.force_login(user)

    membership = join(client, amount="120", currency="GBP", interval="year")

    membership = refreshed(membership, status=MembershipStatus.ACTIVE)
    assert (membership.amount, membership.currency, membership.interval) == (12000, "GBP", "year")
    assert has_member_perks(user)


def test_a_join_remembers_its_card_without_asking_stripe_for_it_again(
    client, tasks, stripe_webhooks, monkeypatch
):
    asked = []  # reads of "which card is on the subscription now?"
    monkeypatch.setattr("members.tasks.follow_membership_card.delay", asked.append)
    client.force_login(UserFactory())

    membership = refreshed(join(client), status=MembershipStatus.ACTIVE)

    assert membership.card == "Visa ending 4242"
    assert membership.card_payment_method_id.startswith("pm_")
    assert asked == []


def test_a_declined_first_card_can_be_replaced_and_the_membership_starts_once(
    client, tasks, stripe_webhooks
):
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()

    declined = client.post(started["confirmUrl"], card(CARD_DECLINED_ON_CHARGE)).json()

    assert declined["status"] == "failed"
    assert declined["error"] == gateway.card_message("card_declined")  # our words
    assert declined["anotherCard"] is True
    membership = Membership.objects.get()
    assert membership.status == MembershipStatus.INCOMPLETE
    subscription = membership.stripe_subscription_id
    invoice = first_invoice(membership)["id"]
    assert client.post(started["confirmUrl"], card(CARD_OK)).json()["status"] == "succeeded"
    membership = refreshed(membership, status=MembershipStatus.ACTIVE)
    # The other card paid the same first invoice of the same subscription.
    assert membership.stripe_subscription_id == subscription
    payment = wait_until(lambda: Payment.objects.first())
    assert payment.stripe_invoice_id == invoice
    assert Membership.objects.count() == 1
    assert Payment.objects.count() == 1
    assert membership.card == "Visa ending 4242"  # the card that paid, not the declined one


def test_a_join_with_a_3ds_card_asks_the_bank_once(client, tasks, stripe_webhooks, stripe_proxy):
    """The card is checked once, on the first invoice's PaymentIntent: the first confirm
    asks for 3-D Secure, the page runs it once, and the next confirm (no card) subscribes.
    No SetupIntent, so no second challenge."""
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    assert "setupClientSecret" not in started

    asked = client.post(started["confirmUrl"], card(CARD_3DS)).json()

    assert asked["status"] == "requires_action", asked
    membership = Membership.objects.get()
    assert membership.status == MembershipStatus.INCOMPLETE
    intent = first_invoice(membership)["payment_intent"]
    assert asked["clientSecret"].startswith(intent + "_secret_")
    assert confirm_card_payment(asked["clientSecret"])["status"] == "succeeded"
    done = client.post(started["confirmUrl"]).json()
    assert done["status"] == "succeeded", done
    assert stripe_proxy.writes("/v1/setup_intents") == []
    refreshed(membership, status=MembershipStatus.ACTIVE)
    payment = wait_until(lambda: Payment.objects.first())
    assert (payment.amount, payment.currency) == (1000, "USD")
    assert payment.stripe_payment_intent_id == intent
    assert Payment.objects.count() == 1


def test_a_join_confirmed_without_a_card_or_with_an_unknown_one_asks_for_the_card(
    client, db, localstripe
):
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()

    without = client.post(started["confirmUrl"])
    unknown = client.post(started["confirmUrl"], {"payment_method": "pm_NoSuchCard123"})

    assert without.status_code == 400
    assert without.json() == {"errors": {"card": ["Please enter your card details."]}}
    assert unknown.status_code == 400
    assert unknown.json() == {"errors": {"card": ["Please enter your card details again."]}}
    membership = Membership.objects.get()
    assert (membership.status, membership.stripe_subscription_id) == (
        MembershipStatus.INCOMPLETE,
        None,
    )
    assert membership.card_failures == 0
    assert not CardCheckFailure.objects.exists()
    assert client.post(started["confirmUrl"], card(CARD_OK)).json()["status"] == "succeeded"


def test_a_member_cannot_join_twice(client, tasks, stripe_webhooks):
    client.force_login(UserFactory())
    join(client)

    again = client.post(reverse("members:join_start"), JOIN)

    assert again.status_code == 400
    assert "already a member" in again.json()["error"]
    assert Membership.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("amount", "0.50", "The smallest gift"),
        ("amount", "-10", "as a number"),
        ("amount", "ten", "as a number"),
        ("amount", "99999999", "The largest gift"),
        ("currency", "XXX", "Select a valid choice"),
        ("interval", "week", "Select a valid choice"),
        ("utm_source", "<script>", "Only letters"),
    ],
)
def test_bad_join_input_is_a_field_error_and_stores_nothing(
    client, db, stripe_unreachable, field, value, reason
):
    client.force_login(UserFactory())

    response = client.post(reverse("members:join_start"), {**JOIN, field: value})

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {field}
    assert reason in errors[field][0]
    assert not Membership.objects.exists()
    assert not Donor.objects.exists()


def test_nobody_reaches_another_members_join_by_guessing_its_id(client, tasks, stripe_webhooks):
    owner = UserFactory()
    client.force_login(owner)
    membership = join(client)
    intruder = UserFactory()
    client.force_login(intruder)

    for name in ("members:join_confirm", "members:join_welcome"):
        for public_id in (membership.public_id, uuid.uuid4()):
            method = client.post if name.endswith("confirm") else client.get
            assert method(reverse(name, args=[public_id])).status_code == 404
    assert not has_member_perks(intruder)


def test_a_reader_whose_first_payment_failed_can_start_again_with_another_amount(
    client, tasks, stripe_webhooks
):
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    assert (
        client.post(started["confirmUrl"], card(CARD_DECLINED_ON_CHARGE)).json()["status"]
        == "failed"
    )
    unpaid = Membership.objects.get()

    membership = join(client, amount="15")

    unpaid.refresh_from_db()
    assert unpaid.status == MembershipStatus.CANCELED
    assert not unpaid.welcomed_at and not unpaid.ended_notice_at
    membership = refreshed(membership, status=MembershipStatus.ACTIVE)
    assert membership.amount == 1500
    wait_until(lambda: Payment.objects.filter(amount=1500).count() == 1)
    assert Payment.objects.count() == 1


def test_a_join_sent_again_after_a_stripe_error_subscribes_once(client, tasks, stripe_proxy):
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    stripe_proxy.fail_next(10, path="/v1/subscriptions")

    failed = client.post(started["confirmUrl"], card(CARD_OK))
    stripe_proxy.recover()
    # What the page does after an error: start again (the same record), the card entered again.
    again = client.post(reverse("members:join_start"), JOIN).json()
    joined = client.post(again["confirmUrl"], card(CARD_OK)).json()

    assert failed.status_code == 502
    assert again["membership"] == started["membership"]
    assert joined["status"] == "succeeded"
    membership = Membership.objects.get()
    assert membership.status == MembershipStatus.ACTIVE
    created = [
        w
        for w in stripe_proxy.forwarded_writes("/v1/subscriptions")
        if w.path == "/v1/subscriptions"
    ]
    assert len(created) == 1
    customer = membership.donor.stripe_customer_id
    subscriptions = _stripe("GET", f"subscriptions?customer={customer}")["data"]
    assert [s["id"] for s in subscriptions] == [membership.stripe_subscription_id]
    assert stripe_proxy.writes("/v1/setup_intents") == []


@pytest.mark.parametrize("signed_in", [True, False], ids=["member", "guest"])
def test_a_card_the_bank_refuses_as_it_is_saved_is_a_counted_decline_and_another_card_pays(
    client, tasks, stripe_webhooks, signed_in
):
    """Stripe checks a card as it attaches it to the customer (4000000000000002 is refused
    there): the page is told in our words and may send another card, the refusal counts
    as a failed card check of this join, and no subscription was made for it."""
    data = dict(JOIN)
    if signed_in:
        client.force_login(UserFactory())
    else:
        data["email"] = "refused.at.attach@example.org"
    started = client.post(reverse("members:join_start"), data).json()

    refused = client.post(started["confirmUrl"], card(CARD_DECLINED_AT_SETUP))

    assert refused.status_code == 200
    assert refused.json() == {
        "status": "failed",
        "clientSecret": None,
        "error": gateway.card_message("card_declined"),
        "anotherCard": True,
        "welcomeUrl": started["welcomeUrl"],
    }
    membership = Membership.objects.get()
    assert membership.card_failures == 1
    assert membership.stripe_subscription_id is None
    (failure,) = CardCheckFailure.objects.all()
    assert failure.stage == "setup"
    assert client.post(started["confirmUrl"], card(CARD_OK)).json()["status"] == "succeeded"
    refreshed(membership, status=MembershipStatus.ACTIVE)


def test_cards_refused_as_they_are_saved_use_up_the_joins_attempts(client, tasks, stripe_webhooks):
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    answers = [
        client.post(started["confirmUrl"], card(CARD_DECLINED_AT_SETUP)).json()
        for _ in range(settings.DONATION_MAX_CARD_ATTEMPTS)
    ]

    assert [a["anotherCard"] for a in answers] == [True] * (len(answers) - 1) + [False]
    assert answers[-1]["error"].endswith(card_testing.START_AGAIN)
    refused = client.post(started["confirmUrl"], card(CARD_OK))
    assert refused.status_code == 400
    assert Membership.objects.get().card_failures == settings.DONATION_MAX_CARD_ATTEMPTS
    assert not Payment.objects.exists()
