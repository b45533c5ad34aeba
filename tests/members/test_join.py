"""Journey 2 in detail: joining with or without an account, bad input, a declined first
card, and nobody reaching someone else's membership by guessing its id."""

import re
import uuid

import pytest
from django.urls import reverse

from members.models import Membership
from members.selectors import has_member_perks
from members.states import MembershipStatus
from payments.models import Donor, Payment
from tests.factories import PASSWORD, ArticleFactory, UserFactory
from tests.members.memberships import _stripe, join, refreshed
from tests.support.processes import wait_until
from tests.support.stripejs import CARD_DECLINED_ON_CHARGE, CARD_OK, confirm_card_setup

JOIN = {"amount": "10", "currency": "USD", "interval": "month"}


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


def test_a_declined_first_card_can_be_replaced_and_the_membership_starts_once(
    client, tasks, stripe_webhooks
):
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    confirm_card_setup(started["setupClientSecret"], CARD_DECLINED_ON_CHARGE)

    declined = client.post(started["confirmUrl"]).json()

    assert declined["status"] == "failed"
    assert declined["error"]
    membership = Membership.objects.get()
    assert membership.status == MembershipStatus.INCOMPLETE
    confirm_card_setup(declined["setupClientSecret"], CARD_OK)
    assert client.post(started["confirmUrl"]).json()["status"] == "succeeded"
    refreshed(membership, status=MembershipStatus.ACTIVE)
    assert Membership.objects.count() == 1
    wait_until(lambda: Payment.objects.count() == 1)


def test_a_late_second_click_after_a_decline_gets_the_same_next_card_form(
    client, tasks, stripe_proxy
):
    """Two confirms of one declined card: the slower one finishes after the first has
    stored the next card form. It answers with that same form, never a third one the
    reader's confirmed card would not match. (The proxy honours idempotency keys, as
    Stripe does and localstripe does not.)"""
    from members.services import checkout
    from payments import stripe_gateway as gateway

    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    confirm_card_setup(started["setupClientSecret"], CARD_DECLINED_ON_CHARGE)
    membership = Membership.objects.get()
    used = gateway.retrieve_setup_intent(membership.stripe_setup_intent_id)
    declined = client.post(started["confirmUrl"]).json()
    membership.refresh_from_db()
    next_form = membership.stripe_setup_intent_id

    late = checkout._first_payment_outcome(
        membership, gateway.retrieve_subscription(membership.stripe_subscription_id), used
    )

    membership.refresh_from_db()
    assert membership.stripe_setup_intent_id == next_form
    assert late.setup_client_secret == declined["setupClientSecret"]
    confirm_card_setup(declined["setupClientSecret"], CARD_OK)
    assert client.post(started["confirmUrl"]).json()["status"] == "succeeded"


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
    confirm_card_setup(started["setupClientSecret"], CARD_DECLINED_ON_CHARGE)
    assert client.post(started["confirmUrl"]).json()["status"] == "failed"
    unpaid = Membership.objects.get()

    membership = join(client, amount="15")

    unpaid.refresh_from_db()
    assert unpaid.status == MembershipStatus.CANCELED
    assert not unpaid.welcomed_at and not unpaid.ended_notice_at
    membership = refreshed(membership, status=MembershipStatus.ACTIVE)
    assert membership.amount == 1500
    wait_until(lambda: Payment.objects.filter(amount=1500).count() == 1)
    assert Payment.objects.count() == 1


def test_a_join_sent_again_after_a_stripe_error_goes_on_without_confirming_the_card_twice(
    client, tasks, stripe_proxy
):
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    setup_id = started["setupClientSecret"].split("_secret_")[0]
    assert confirm_card_setup(started["setupClientSecret"], CARD_OK)["status"] == "succeeded"
    stripe_proxy.fail_next(10, path="/v1/subscriptions")

    failed = client.post(started["confirmUrl"])
    stripe_proxy.recover()
    joined = client.post(started["confirmUrl"]).json()  # what join.js does on a retry

    assert failed.status_code == 502
    assert joined["status"] == "succeeded"
    assert len(stripe_proxy.writes(f"/v1/setup_intents/{setup_id}/confirm")) == 1
    assert _stripe("GET", f"setup_intents/{setup_id}")["status"] == "succeeded"
    assert Membership.objects.get().status == MembershipStatus.ACTIVE
    # Confirming the card again would be refused, as Stripe refuses it.
    again = confirm_card_setup(started["setupClientSecret"], CARD_OK)
    assert again["error"]["code"] == "setup_intent_unexpected_state"
