"""Stripe down, answering 500, or cut off after doing the work but before answering,
while a reader gives, a member changes or cancels their membership, and staff refund:
a clear message (a JSON error, a form error: never a 500 page or a trace), and the
retry reuses the idempotency key, so Stripe charges, changes and refunds once.

Real HTTP to the live server (the page's own calls, CSRF and session cookies), the
real Celery worker, localstripe behind the proxy that honours idempotency keys as
Stripe does (tests/support/stripe_proxy.py) and, in front of it, a TCP proxy that
takes Stripe away (tests/support/tcp_proxy.py). What Stripe holds is read from
localstripe directly, past both proxies.
"""

import re
from dataclasses import dataclass

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from members.models import Membership
from payments.models import Donation, Donor, Payment, Refund, StripeEvent
from payments.states import EventStatus, RefundStatus
from tests.factories import UserFactory
from tests.members.memberships import join
from tests.payments.donations import give, recorded_payment
from tests.support.processes import wait_until
from tests.support.stripe_proxy import StripeProxy
from tests.support.stripejs import CARD_OK, create_payment_method
from tests.support.tcp_proxy import TcpProxy

GIVE, START = reverse("payments:give"), reverse("payments:give_start")
CHANGE = reverse("members:membership_change")
PREVIEW = reverse("members:membership_change_preview")
CANCEL = reverse("members:membership_cancel")
GIFT = {"amount": "30", "currency": "EUR", "email": "steady@example.org"}


@dataclass
class StripeLine:
    """The way to Stripe: `line` (can be cut) -> `api` (records, fails on demand) ->
    localstripe (`emulator`)."""

    line: TcpProxy
    api: StripeProxy

    def stripe_holds(self, path: str, **params) -> dict:
        """An object or list as Stripe holds it, read past both proxies."""
        return requests.get(
            f"{self.api.upstream}/v1/{path}",
            params=params,
            auth=(settings.STRIPE_SECRET_KEY, ""),
            timeout=10,
        ).json()

    def posts(self, path: str) -> list:
        """POSTs that reached the API (replays included) for exactly this path."""
        return [r for r in self.api.writes(path) if r.path == path]


@pytest.fixture
def stripe(stripe_proxy, settings):
    line = TcpProxy("127.0.0.1", int(stripe_proxy.url.rsplit(":", 1)[1])).start()
    settings.STRIPE_API_BASE = f"http://{line.url_host_port}"
    yield StripeLine(line, stripe_proxy)
    line.down()
    stripe_proxy.recover()


class Browser:
    """A reader's browser on the live server: cookies, and the CSRF token the pages'
    scripts send in X-CSRFToken."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def sign_in(self, user) -> None:
        signed_in = Client()
        signed_in.force_login(user)
        name = settings.SESSION_COOKIE_NAME
        self.session.cookies.set(name, signed_in.cookies[name].value)

    def get(self, path: str, **params) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=60)

    def post(self, path: str, data: dict | None = None) -> requests.Response:
        headers = {"X-CSRFToken": self.session.cookies.get("csrftoken", "")}
        return self.session.post(self.base + path, data=data, headers=headers, timeout=60)


@pytest.fixture
def browser(live_server, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # plain HTTP here
    browser = Browser(live_server.url)
    yield browser
    browser.session.close()


def assert_no_trace(response: requests.Response) -> None:
    assert response.status_code != 500, response.text[:2000]
    for sign in ("Traceback", "Server Error", "Exception Value"):
        assert sign not in response.text


def form_errors(page: requests.Response) -> str:
    """The text of the form's error list(s) on a page."""
    assert page.status_code == 200, page.text[:2000]
    found = re.findall(r'class="[^"]*errorlist[^"]*"[^>]*>(.*?)</ul>', page.text, re.DOTALL)
    return " ".join(re.sub(r"<[^>]+>", " ", html) for html in found)


# --- A gift ------------------------------------------------------------------------------


def test_stripe_down_when_a_gift_starts_says_so_stores_nothing_and_the_retry_starts_it_once(
    browser, tasks, stripe
):
    browser.get(GIVE)
    stripe.line.down()

    refused = browser.post(START, GIFT)

    assert refused.status_code == 502
    assert "try again" in refused.json()["error"]
    assert_no_trace(refused)
    assert not Donor.objects.exists() and not Donation.objects.exists()

    stripe.line.up()
    started = browser.post(START, GIFT)

    assert started.status_code == 200, started.text
    assert Donation.objects.count() == 1
    assert len(stripe.api.forwarded_writes("/v1/customers")) == 1


def pay_with_the_answer_lost(browser, stripe) -> tuple[dict, dict, requests.Response]:
    """A gift started and its card entered; the charge reaches Stripe, its answer is lost
    and Stripe stays unreachable for the client's own retries."""
    browser.get(GIVE)
    gift = browser.post(START, GIFT).json()
    card = {"payment_method": create_payment_method(CARD_OK)}
    stripe.line.lose_answer_to(rb"POST /v1/payment_intents HTTP")

    failed = browser.post(gift["payUrl"], card)

    stripe.line.wait_for_lost_answer()
    return gift, card, failed


def test_a_charge_made_but_unanswered_is_retried_by_the_reader_with_its_key_and_charged_once(
    browser, tasks, stripe
):
    gift, card, failed = pay_with_the_answer_lost(browser, stripe)

    assert failed.status_code == 502
    assert failed.json()["error"]
    assert_no_trace(failed)
    donation = Donation.objects.get()
    assert (donation.attempts, donation.stripe_payment_intent_id) == (0, None)

    stripe.line.up()
    paid = browser.post(gift["payUrl"], card)

    assert paid.json()["status"] == "succeeded", paid.text
    first, again = stripe.posts("/v1/payment_intents")
    assert (first.forwarded, again.replayed) == (True, True)
    assert first.idempotency_key == again.idempotency_key
    donation.refresh_from_db()
    charges = stripe.stripe_holds("charges", customer=donation.donor.stripe_customer_id)
    assert [(c["payment_intent"], c["amount"], c["status"]) for c in charges["data"]] == [
        (donation.stripe_payment_intent_id, 3000, "succeeded")
    ]


def test_a_reader_whose_charge_went_through_unanswered_is_not_told_they_were_not_charged(
    browser, tasks, stripe
):
    """Stripe charged the card; only its answer was lost. The page must not say the
    reader was not charged (they may then give again, and pay twice)."""
    _, _, failed = pay_with_the_answer_lost(browser, stripe)

    assert failed.status_code == 502
    assert "not been charged" not in failed.json()["error"]


# --- A membership change, a cancellation -------------------------------------------------


@pytest.fixture
def member(browser, tasks, stripe):
    """A member (monthly, $10) signed in in the browser; their membership."""
    user = UserFactory(email="member@example.org")
    joining = Client()
    joining.force_login(user)
    membership = join(joining, amount="10", currency="USD", interval="month")
    browser.sign_in(user)
    return membership


def subscription_path(membership: Membership) -> str:
    return f"/v1/subscriptions/{membership.stripe_subscription_id}"


def price_in_stripe(stripe: StripeLine, membership: Membership) -> tuple[int, str]:
    subscription = stripe.stripe_holds(f"subscriptions/{membership.stripe_subscription_id}")
    plan = subscription["items"]["data"][0]["plan"]
    return plan["amount"], plan["interval"]


def change_form(browser, amount: str, interval: str) -> dict:
    """The change form as the page posts it: quoted_at is when the price was shown."""
    browser.get(CHANGE)
    shown = browser.get(PREVIEW, amount=amount, interval=interval).json()
    return {"amount": amount, "interval": interval, "quoted_at": shown["prorationDate"]}


def test_stripe_answering_500_to_an_amount_change_says_so_and_the_retry_changes_it_once(
    browser, member, stripe
):
    form = change_form(browser, "30", "month")
    stripe.api.fail_next(20, path=subscription_path(member))

    refused = browser.post(CHANGE, form)

    assert_no_trace(refused)
    assert "Your membership is unchanged." in form_errors(refused)
    assert price_in_stripe(stripe, member) == (1000, "month")

    stripe.api.recover()
    changed = browser.post(CHANGE, form)

    assert changed.url.endswith(reverse("members:account")), changed.url
    assert "$30.00" in changed.text
    assert price_in_stripe(stripe, member) == (3000, "month")
    tries = stripe.posts(subscription_path(member))
    assert len({t.idempotency_key for t in tries}) == 1
    assert [t.forwarded for t in tries if t.forwarded] == [True]
    member.refresh_from_db()
    assert (member.amount, member.interval) == (3000, "month")


def test_a_switch_to_yearly_made_but_unanswered_is_retried_with_its_key_and_charged_once(
    browser, member, stripe
):
    form = change_form(browser, "100", "year")
    stripe.line.lose_answer_to(rf"POST {subscription_path(member)} HTTP".encode())

    refused = browser.post(CHANGE, form)

    stripe.line.wait_for_lost_answer()
    assert_no_trace(refused)
    assert form_errors(refused)
    stripe.line.up()
    changed = browser.post(CHANGE, form)  # the member sends the form again

    assert changed.url.endswith(reverse("members:account")), form_errors(changed)
    assert price_in_stripe(stripe, member) == (10000, "year")
    invoices = stripe.stripe_holds("invoices", subscription=member.stripe_subscription_id)
    paid = sorted(i["amount_paid"] for i in invoices["data"] if i["status"] == "paid")
    updates = [t.idempotency_key for t in stripe.posts(subscription_path(member)) if t.forwarded]
    # The first month, then the switch, charged once; the change reached Stripe once.
    assert (len(paid), len(updates)) == (2, 1), (
        f"invoices paid: {paid}; subscription updates that reached Stripe, by key: {updates}"
    )


def test_stripe_down_when_cancelling_says_so_and_the_retry_cancels_once(browser, member, stripe):
    browser.get(CANCEL)
    stripe.line.down()

    refused = browser.post(CANCEL, {"category": "", "reason": ""})

    assert_no_trace(refused)
    assert "Your membership is unchanged." in form_errors(refused)
    stripe.line.up()
    assert (
        stripe.stripe_holds(f"subscriptions/{member.stripe_subscription_id}")[
            "cancel_at_period_end"
        ]
        is False
    )

    cancelled = browser.post(CANCEL, {"category": "", "reason": ""})

    assert cancelled.url.endswith(reverse("members:account")), form_errors(cancelled)
    assert (
        stripe.stripe_holds(f"subscriptions/{member.stripe_subscription_id}")[
            "cancel_at_period_end"
        ]
        is True
    )
    assert len([t for t in stripe.posts(subscription_path(member)) if t.forwarded]) == 1
    member.refresh_from_db()
    assert member.cancel_at_period_end


# --- A refund in admin -------------------------------------------------------------------


@pytest.fixture
def paid(client, tasks, stripe) -> Payment:
    """A gift of €25, in the ledger (from Stripe's events, fetched: no webhook here)."""
    give(client, amount="25", currency="EUR", email="refunded@example.org")
    call_command("reconcile_stripe")
    payment = recorded_payment()
    # Every event handled (their handlers ask Stripe things) before Stripe goes away.
    wait_until(lambda: not StripeEvent.objects.filter(status=EventStatus.PENDING).exists())
    return payment


@pytest.fixture
def staff(browser):
    browser.sign_in(UserFactory(is_staff=True, is_superuser=True))
    return browser


def refund_form(staff: Browser, payment: Payment, amount: str) -> tuple[str, dict]:
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    page = staff.get(url)
    assert page.status_code == 200, page.text[:2000]
    key = re.search(r'name="request_key" value="([^"]+)"', page.text).group(1)
    return url, {
        "amount": amount,
        "reason": "requested_by_customer",
        "note": "",
        "request_key": key,
    }


def refunds_in_stripe(stripe: StripeLine, payment: Payment) -> list[int]:
    listed = stripe.stripe_holds("refunds", charge=payment.stripe_charge_id)
    return [r["amount"] for r in listed["data"]]


@pytest.mark.parametrize("fault", ["500", "answer lost"])
def test_a_refund_stripe_fails_is_said_on_the_form_and_sent_again_refunds_once(
    staff, paid, stripe, fault
):
    url, form = refund_form(staff, paid, "10")
    if fault == "500":
        stripe.api.fail_next(20, path="/v1/refunds")
    else:
        stripe.line.lose_answer_to(rb"POST /v1/refunds HTTP")

    refused = staff.post(url, form)

    assert_no_trace(refused)
    assert form_errors(refused)
    assert f'value="{form["request_key"]}"' in refused.text  # the form keeps its key
    if fault == "500":
        assert not Refund.objects.exists()  # Stripe made none
    stripe.api.recover()
    stripe.line.up()

    done = staff.post(url, form)  # staff send the form again

    assert done.url.endswith(reverse("admin:payments_payment_change", args=[paid.pk]))
    assert "Refund of €10.00 asked of Stripe" in done.text
    assert refunds_in_stripe(stripe, paid) == [1000]
    tries = stripe.posts("/v1/refunds")
    assert len({t.idempotency_key for t in tries}) == 1
    assert len([t for t in tries if t.forwarded]) == 1
    (refund,) = Refund.objects.all()
    assert refund.amount == 1000
    # Stripe's refund events move the ledger, once.
    call_command("reconcile_stripe")
    wait_until(lambda: Payment.objects.get(pk=paid.pk).amount_refunded == 1000)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED


def test_staff_are_told_a_failed_refund_was_not_made_not_that_someone_was_not_charged(
    staff, paid, stripe
):
    url, form = refund_form(staff, paid, "10")
    stripe.line.down()

    refused = staff.post(url, form)

    stripe.line.up()
    said = form_errors(refused)
    assert "refund" in said.lower(), said
    assert "charged" not in said, said
