"""Joining in one page without an account: the guest's email, the card, and the account
that follows the first payment (signed in by an emailed code). An address that already
has an account is never taken over, nothing says before paying whether one exists, and a
join is reached only from the browser that started it."""

import re
import uuid
from html import unescape
from urllib.parse import quote

import pytest
import requests
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from members.models import Membership, User
from members.selectors import has_member_perks
from members.services.card_checks import CARD_ATTEMPTS_USED_UP
from members.states import Interval, MembershipStatus
from payments import card_testing
from payments.models import CardCheckFailure, CardCheckSource, CardTestingBlock, Payment
from tests.factories import DonorFactory, LevelAmountFactory, MembershipLevelFactory, UserFactory
from tests.members.memberships import join, refreshed
from tests.support.processes import wait_until
from tests.support.stripejs import CARD_DECLINED_ON_CHARGE, CARD_OK, create_payment_method

JOIN = {"amount": "10", "currency": "USD", "interval": "month"}
LET_THROUGH = 502  # past every check; only the closed Stripe port stopped it


@pytest.fixture
def stripe_unreachable(settings):
    """Any Stripe call fails at once: a 502 proves a start got past every check."""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0


def start(client, email: str, *, ip: str = "198.51.100.20", **fields):
    return client.post(
        reverse("members:join_start"), {**JOIN, "email": email, **fields}, REMOTE_ADDR=ip
    )


def guest_join(client, email: str, *, payment_method: str = "") -> tuple[Membership, dict]:
    """A guest starts, enters the card (`payment_method`, else a new good one) and
    subscribes; the membership and the start's answer."""
    response = start(client, email)
    assert response.status_code == 200, response.content
    started = response.json()
    card = {"payment_method": payment_method or create_payment_method(CARD_OK, email=email)}
    outcome = client.post(started["confirmUrl"], card).json()
    assert outcome["status"] == "succeeded", outcome
    return Membership.objects.get(public_id=started["membership"]), started


def stripe_object(path: str) -> dict:
    return requests.get(
        f"{settings.STRIPE_API_BASE}/v1/{path}", auth=(settings.STRIPE_SECRET_KEY, ""), timeout=10
    ).json()


def emails_to(address: str, subject_part: str) -> list:
    return wait_until(
        lambda: [m for m in mail.outbox if address in m.to and subject_part in m.subject]
    )


def sign_in_by_code(client, email: str) -> None:
    """allauth's login by code, as the welcome email's link starts it."""
    mail.outbox.clear()
    response = client.post(reverse("account_request_login_code"), {"email": email})
    assert response.status_code == 302
    message = wait_until(lambda: [m for m in mail.outbox if email in m.to])[0]
    code = re.search(r"^\s*([A-Z0-9]{3,5}-?[A-Z0-9]{3,5})\s*$", message.body, re.MULTILINE)
    client.post(reverse("account_confirm_login_code"), {"code": code.group(1)})
    assert client.get(reverse("members:account")).status_code == 200


def test_a_guest_joins_with_a_new_email_and_signs_in_by_code_to_their_new_account(
    client, tasks, stripe_webhooks, mailoutbox
):
    DonorFactory(email="new.reader@example.org", name="Nadia Reader")  # gave once before

    membership, started = guest_join(client, "New.Reader@Example.org")

    membership = refreshed(membership, status=MembershipStatus.ACTIVE)
    membership = wait_until(
        lambda: Membership.objects.filter(pk=membership.pk, user__isnull=False).first()
    )
    user = User.objects.get(email="new.reader@example.org")
    assert membership.user == user
    assert not user.has_usable_password()
    assert user.display_name == "Nadia Reader"
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == (user.email, False, True)
    (welcome,) = emails_to(user.email, "Welcome")
    link = "/accounts/login/code/?email=" + quote(user.email, safe="")
    assert link in welcome.body
    assert "no password needed" in welcome.body
    page = client.get(started["welcomeUrl"]).content.decode()
    assert "once you sign in as <strong>new.reader@example.org</strong>" in page
    assert 'value="new.reader@example.org"' in client.get(link).content.decode()

    sign_in_by_code(client, user.email)

    address.refresh_from_db()
    assert address.verified
    assert has_member_perks(user)
    assert User.objects.count() == 1
    # A password is optional, later: allauth's page to set one.
    assert client.get(reverse("account_set_password")).status_code == 200


def test_a_guest_with_the_email_of_an_account_never_takes_it_over(
    client, tasks, stripe_webhooks, mailoutbox
):
    owner = UserFactory(email="owner@example.org")
    # Before paying, the page answers the same whether or not the address has an account.
    answers = [start(Client(), email).json() for email in ("owner@example.org", "no@example.org")]
    assert [sorted(a) for a in answers] == [sorted(answers[1])] * 2
    Membership.objects.all().delete()

    membership, started = guest_join(client, "Owner@Example.org")

    membership = refreshed(membership, status=MembershipStatus.ACTIVE)
    (welcome,) = emails_to("owner@example.org", "Welcome")
    assert "once you sign in as owner@example.org" in welcome.body
    membership.refresh_from_db()
    assert membership.user is None
    assert User.objects.count() == 1
    assert not has_member_perks(owner)
    page = client.get(started["welcomeUrl"]).content.decode()
    assert "once you sign in as <strong>owner@example.org</strong>" in page

    sign_in_by_code(client, owner.email)

    membership.refresh_from_db()
    assert membership.user == owner
    assert has_member_perks(owner)


def test_an_unverified_account_with_that_email_gets_the_membership_only_once_verified(
    client, tasks, stripe_webhooks
):
    """Someone signed up with the address but never proved it: signing in links nothing
    until the address is verified (a sign-in by code verifies it)."""
    squatter = UserFactory(email="taken@example.org", verified=False)
    membership, _ = guest_join(client, "taken@example.org")
    refreshed(membership, status=MembershipStatus.ACTIVE)

    Client().force_login(squatter)

    membership.refresh_from_db()
    assert membership.user is None
    EmailAddress.objects.create(user=squatter, email=squatter.email, verified=True, primary=True)
    Client().force_login(squatter)
    membership.refresh_from_db()
    assert membership.user == squatter


def test_another_browser_can_neither_confirm_nor_see_a_guests_join(client, tasks, stripe_webhooks):
    membership, started = guest_join(client, "private@example.org")
    refreshed(membership, status=MembershipStatus.ACTIVE)
    signed_in_stranger = Client()
    signed_in_stranger.force_login(UserFactory())

    card = {"payment_method": create_payment_method(CARD_OK)}
    for other in (Client(), signed_in_stranger):
        for public_id in (membership.public_id, uuid.uuid4()):
            confirm = reverse("members:join_confirm", args=[public_id])
            welcome = reverse("members:join_welcome", args=[public_id])
            assert other.post(confirm).status_code == 404
            assert other.post(confirm, card).status_code == 404
            assert other.get(welcome).status_code == 404
    assert client.get(started["welcomeUrl"]).status_code == 200


def test_a_guests_starts_are_limited_per_address_and_per_email(
    client, db, settings, stripe_unreachable
):
    settings.DONATION_RATE_PER_EMAIL = "2/10m"
    settings.DONATION_RATE_PER_IP = "3/10m"

    # One inbox, however it is tagged or cased.
    same_inbox = ["reader+1@example.org", "Reader+2@example.org", "reader@example.org"]
    answers = [start(Client(), email, ip=f"198.51.100.{n}") for n, email in enumerate(same_inbox)]
    assert [a.status_code for a in answers] == [LET_THROUGH, LET_THROUGH, 429]

    from_one_ip = [start(Client(), f"r{n}@example.org", ip="203.0.113.9") for n in range(4)]
    assert [a.status_code for a in from_one_ip] == [LET_THROUGH] * 3 + [429]


def test_a_guest_email_blocked_for_failed_cards_cannot_start_a_join(client, db, stripe_unreachable):
    starter = card_testing.Starter(label="test", ip=None, email="tester@example.org", user_id=None)
    for n in range(5):
        failure = card_testing.CardFailure(key=f"test:{n}", stage="setup", card=None)
        card_testing.record_failure(failure, starter)
    assert CardTestingBlock.objects.get().source == CardCheckSource.EMAIL

    assert start(client, "Tester+join@example.org").status_code == 429
    assert start(client, "someone.else@example.org").status_code == LET_THROUGH


def test_a_guests_declined_cards_count_against_their_email_and_close_the_form(
    client, tasks, stripe_webhooks, settings
):
    settings.DONATION_MAX_CARD_ATTEMPTS = 3
    started = start(client, "guest.tester@example.org").json()
    membership = Membership.objects.get(public_id=started["membership"])

    answers = []
    for _ in range(3):
        declined = create_payment_method(CARD_DECLINED_ON_CHARGE, email="guest.tester@example.org")
        answers.append(client.post(started["confirmUrl"], {"payment_method": declined}).json())

    assert [(a["status"], a["anotherCard"]) for a in answers] == [
        ("failed", True),
        ("failed", True),
        ("failed", False),
    ]
    assert answers[-1]["error"].endswith(card_testing.START_AGAIN)
    membership.refresh_from_db()
    assert membership.card_failures == 3
    failures = CardCheckFailure.objects.all()
    assert len(failures) == 3
    assert {(f.email, f.user_id) for f in failures} == {("guest.tester@example.org", None)}
    good = {"payment_method": create_payment_method(CARD_OK, email="guest.tester@example.org")}
    confirming = client.post(started["confirmUrl"], good).json()
    assert (confirming["status"], confirming["error"], confirming["anotherCard"]) == (
        "failed",
        CARD_ATTEMPTS_USED_UP,
        False,
    )
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.CANCELED  # its unpaid subscription ended
    assert not Payment.objects.exists()


def test_the_level_cards_show_only_the_chosen_price_and_the_middle_one_is_checked(client, db):
    for n, (monthly, yearly) in enumerate([(500, 5000), (1000, 10000), (2500, 25000)]):
        level = MembershipLevelFactory(name=f"Tier {n}", slug=f"tier-{n}", position=n)
        LevelAmountFactory(level=level, amount=monthly)
        LevelAmountFactory(level=level, amount=yearly, interval=Interval.YEAR)
        LevelAmountFactory(level=level, amount=monthly + 100, currency="USD")

    body = client.get(reverse("members:join") + "?currency=EUR").content.decode()

    radios = re.findall(r'<input type="radio" name="level"[^>]*>', body)
    assert len(radios) == 3
    assert [" checked" in radio for radio in radios] == [False, True, False]
    prices = re.findall(r'data-price-for="tier-\d">([^<]*)<', body)
    assert [unescape(p) for p in prices] == ["€5 a month", "€10 a month", "€25 a month"]
    assert "€100" not in unescape(body)
    assert "$11" not in body
    assert 'value="10.00"' in body  # the middle level's price in the amount box
    yearly = unescape(
        client.get(reverse("members:join") + "?currency=EUR&interval=year").content.decode()
    )
    assert re.findall(r'data-price-for="tier-\d">([^<]*)<', yearly) == [
        "€50 a year",
        "€100 a year",
        "€250 a year",
    ]


def test_a_link_with_an_amount_prefills_it(client, db):
    level = MembershipLevelFactory(slug="tier-a")
    LevelAmountFactory(level=level, amount=1000)

    body = client.get(
        reverse("members:join") + "?amount=15.00&currency=EUR&interval=month"
    ).content.decode()

    assert re.search(r'name="amount"[^>]*value="15.00"', body)
    assert "Join for €15 a month" in unescape(body)
    assert " checked" not in re.search(r'<input type="radio" name="level"[^>]*>', body).group(0)
    assert re.search(r'name="interval" id="interval-month" value="month" checked', body)


def test_a_guest_paying_with_a_members_email_never_changes_the_members_card(
    client, tasks, stripe_webhooks
):
    """The address names one Stripe customer; the guest's card pays the guest's membership
    only (the subscription's own card), and the member's renewals stay on theirs."""
    client.force_login(UserFactory(email="member@example.org"))
    own = join(client)
    customer = own.donor.stripe_customer_id
    members_card = stripe_object(f"customers/{customer}")["invoice_settings"][
        "default_payment_method"
    ]

    strangers_card = create_payment_method(CARD_OK, email="member@example.org")

    stranger, _ = guest_join(Client(), "member@example.org", payment_method=strangers_card)

    stranger.refresh_from_db()
    assert stranger.donor.stripe_customer_id == customer
    assert strangers_card != members_card
    assert (
        stripe_object(f"customers/{customer}")["invoice_settings"]["default_payment_method"]
        == members_card
    )
    subscriptions = {
        membership.pk: stripe_object(f"subscriptions/{membership.stripe_subscription_id}")
        for membership in (own, stranger)
    }
    assert subscriptions[own.pk]["default_payment_method"] == members_card
    assert subscriptions[stranger.pk]["default_payment_method"] == strangers_card
