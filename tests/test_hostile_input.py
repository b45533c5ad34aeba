"""What a hostile client sends, refused with a clear answer and nothing stored.

Amounts in digits other than ASCII ones, text that is not valid UTF-8, names with
markup or control characters, and every page carrying a strict
Content-Security-Policy.
"""

import pytest
from django.test import Client
from django.urls import reverse

from members.models import LevelAmount, Membership, MembershipLevel
from members.states import MembershipKind, MembershipStatus
from payments.models import Donation
from tests.factories import PaymentFactory, UserFactory

pytestmark = pytest.mark.django_db

PLAIN_NUMBER = "Enter the amount as a number, like 10 or 10.50."
# Arabic-Indic fifty, fullwidth ten, Devanagari ten, an Arabic decimal separator, and
# Arabic-Indic digits with a comma: Python's Decimal and \\d read them all as numbers.
NOT_ASCII_DIGITS = [
    "\u0665\u0660",
    "\uff11\uff10",
    "\u0967\u0966",
    "10\u066b5",
    "\u0665\u0660,\u0660\u0660",
]


def errors_of(response) -> str:
    return response.content.decode()


@pytest.fixture
def member_client() -> Client:
    client = Client()
    client.force_login(UserFactory(email="member@example.org"))
    return client


@pytest.fixture
def levels():
    level = MembershipLevel.objects.create(name="Supporter", slug="supporter")
    LevelAmount.objects.create(level=level, currency="EUR", interval="month", amount=500)


@pytest.mark.parametrize("typed", NOT_ASCII_DIGITS)
def test_the_give_form_refuses_amounts_in_other_digits(client, typed):
    response = client.post(
        reverse("payments:give_start"),
        {"amount": typed, "currency": "USD", "email": "digits@example.org"},
    )

    assert response.status_code == 400
    assert response.json()["errors"]["amount"] == [PLAIN_NUMBER]
    assert not Donation.objects.exists()


@pytest.mark.parametrize("typed", NOT_ASCII_DIGITS)
def test_the_join_form_refuses_amounts_in_other_digits(member_client, typed):
    response = member_client.post(
        reverse("members:join_start"), {"amount": typed, "currency": "USD", "interval": "month"}
    )

    assert response.status_code == 400
    assert PLAIN_NUMBER in str(response.json())
    assert not Membership.objects.exists()


@pytest.mark.parametrize("typed", NOT_ASCII_DIGITS)
def test_the_gift_membership_form_refuses_amounts_in_other_digits(client, levels, typed):
    response = client.post(
        reverse("gifts:start"),
        {
            "amount": typed,
            "currency": "EUR",
            "months": "3",
            "email": "giver@example.org",
            "recipient_email": "friend@example.org",
            "send_on": "2030-01-01",
        },
    )

    assert response.status_code == 400
    assert PLAIN_NUMBER in str(response.json())
    assert not Donation.objects.exists()


@pytest.mark.parametrize("typed", NOT_ASCII_DIGITS)
def test_the_membership_change_form_refuses_amounts_in_other_digits(member_client, typed):
    membership = Membership.objects.create(
        user=UserFactory._meta.model.objects.get(email="member@example.org"),
        email="member@example.org",
        kind=MembershipKind.PAID,
        status=MembershipStatus.ACTIVE,
        amount=1000,
        currency="USD",
        interval="month",
        stripe_subscription_id="sub_digits",
    )

    response = member_client.post(
        reverse("members:membership_change"), {"amount": typed, "interval": "month"}
    )

    assert response.status_code == 200  # the form again, with the error
    assert PLAIN_NUMBER in errors_of(response)
    membership.refresh_from_db()
    assert membership.amount == 1000


@pytest.mark.parametrize("typed", NOT_ASCII_DIGITS)
def test_the_admin_refund_form_refuses_amounts_in_other_digits(staff_client, typed):
    payment = PaymentFactory()

    response = staff_client.post(
        reverse("admin:payments_payment_refund", args=[payment.pk]),
        {"amount": typed, "request_key": "5b8e5a3c-0f5e-4a51-9b3c-2a1d2a1d2a1d"},
    )

    assert response.status_code == 200
    assert PLAIN_NUMBER in errors_of(response)
    assert not payment.refunds.exists()


# --- Text that is not UTF-8 ---------------------------------------------------------------


def test_a_form_body_that_is_not_utf8_is_refused_and_nothing_stored(client):
    body = b"amount=10&currency=USD&email=bytes%40example.org&name=Ann%FF%FE"

    response = client.post(
        reverse("payments:give_start"),
        body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-CSRFToken": "x"},
    )

    assert response.status_code == 400
    assert "UTF-8" in response.json()["error"]
    assert not Donation.objects.exists()


def test_a_profile_name_that_is_not_utf8_is_refused(member_client):
    response = member_client.post(
        reverse("members:account"),
        b"display_name=Ann%C3%28",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    assert "UTF-8" in response.content.decode()
    assert UserFactory._meta.model.objects.get(email="member@example.org").display_name != "Ann"


def test_a_query_string_that_is_not_utf8_is_refused(client):
    response = client.get(reverse("payments:give") + "?from=%FF%FE")

    assert response.status_code == 400


def test_valid_utf8_from_any_script_is_accepted(member_client):
    response = member_client.post(reverse("members:account"), {"display_name": "Олена Коваль"})

    assert response.status_code in (200, 302)
    assert UserFactory._meta.model.objects.get(email="member@example.org").display_name == (
        "Олена Коваль"
    )


# --- Names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["<b>Ann</b>", "Ann\x00", "Ann\x1b[31m", "An\x85n", "\u202eAnn", "Ann\u2066x"],
)
def test_the_profile_name_follows_the_rules_of_every_other_name_field(member_client, name):
    response = member_client.post(reverse("members:account"), {"display_name": name})

    assert response.status_code == 200
    assert "ordinary punctuation" in response.content.decode()
    assert UserFactory._meta.model.objects.get(email="member@example.org").display_name != name


@pytest.mark.parametrize("name", ["\u202eAnn", "An\x85n"])
def test_the_give_form_refuses_names_that_would_read_backwards_or_hold_controls(client, name):
    response = client.post(
        reverse("payments:give_start"),
        {"amount": "10", "currency": "USD", "email": "n@example.org", "name": name},
    )

    assert response.status_code == 400
    assert "name" in response.json()["errors"]


# --- Content-Security-Policy -------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        directive.split()[0]: directive.split()[1:]
        for directive in header.split(";")
        if directive.strip()
    }


@pytest.mark.parametrize(
    "page",
    ["home", "payments:give", "gifts:give", "account_login", "account_signup", "admin:login"],
)
def test_every_page_has_a_strict_content_security_policy(client, settings, page):
    policy = _policy(client.get(reverse(page)))

    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"] + policy["style-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]


def test_the_policy_allows_stripe_js_from_where_the_pages_load_it(client, settings):
    policy = _policy(client.get(reverse("payments:give")))
    page = client.get(reverse("payments:give")).content.decode()

    assert settings.STRIPE_JS_URL in page
    stripe_origin = "/".join(settings.STRIPE_JS_URL.split("/")[:3])
    assert stripe_origin in policy["script-src"]
    assert stripe_origin in policy["frame-src"]


def test_signed_in_pages_have_the_policy_too(member_client):
    policy = _policy(member_client.get(reverse("members:account")))

    assert policy["script-src"][0] == "'self'"


def test_no_page_template_has_inline_script_or_style():
    """The policy refuses them, so they would silently not work."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    offenders = []
    for template in root.glob("**/templates/**/*.html"):
        if ".venv" in template.parts or "email" in template.parts:
            continue  # emails are not pages: mail clients need inline styles
        text = template.read_text()
        if re.search(r"<script(?![^>]*\b(src|type=\"application/json\")\b)[^>]*>", text):
            offenders.append(f"{template.relative_to(root)}: inline <script>")
        if re.search(r"\sstyle=\"|<style\b|\son[a-z]+=\"", text):
            offenders.append(f"{template.relative_to(root)}: inline style or handler")
    assert offenders == []
