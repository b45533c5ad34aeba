"""The gift form refuses bad input with a reason on the right field, and stores nothing.

Stripe is pointed at a closed port: a request that got past the form would
answer 502, so a 400 here also proves nothing was sent to Stripe.
"""

import uuid

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from payments.forms import DonationForm
from payments.models import Donation, Donor, Payment, Receipt, StripeEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ON_POSTGRES = "postgresql" in django_settings.DATABASES["default"]["ENGINE"]

NOT_A_NUMBER = "Enter the amount as a number, like 10 or 10.50."
SMALLEST_USD = "The smallest gift is $1.00."
REQUIRED = "This field is required."
NOT_A_CHOICE = "Select a valid choice."
NO_MARKUP = "Please use letters, numbers and ordinary punctuation only."
TRACKING_ONLY = "Only letters, numbers and - _ . + ~ % / : are allowed here."


@pytest.fixture(autouse=True)
def stripe_unreachable(settings):
    """Any call to Stripe fails at once (closed port, no retries) and the view answers 502."""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0


def start(client: Client, **fields):
    """POST the form with a valid gift, changed by `fields` (None leaves a field out)."""
    data = {"amount": "25", "currency": "USD", "email": "guest@example.org", **fields}
    return client.post(
        reverse("payments:give_start"), {k: v for k, v in data.items() if v is not None}
    )


def nothing_stored() -> bool:
    return not any(
        model.objects.exists() for model in (Donor, Donation, Payment, Receipt, StripeEvent)
    )


def assert_refused(response, field: str, reason: str) -> None:
    """400, only `field` is blamed, with `reason` among its messages, and nothing stored."""
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert set(errors) == {field}, errors
    assert any(reason in message for message in errors[field]), errors
    assert nothing_stored()


# --- The harness: a valid gift gets as far as Stripe --------------------------------


def test_a_valid_gift_reaches_stripe_and_stores_nothing_when_stripe_is_down(client):
    response = start(client, name="Olena", source="energy-grid", utm_source="newsletter")

    assert response.status_code == 502
    assert "could not reach our card processor" in response.json()["error"]
    assert nothing_stored()


# --- Amount -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (None, REQUIRED),
        ("", REQUIRED),
        ("   ", REQUIRED),
        ("0", SMALLEST_USD),
        ("0.00", SMALLEST_USD),
        ("-5", "Enter the amount as a number, like 10 or 10.50."),
        ("-0.01", "Enter the amount as a number, like 10 or 10.50."),
        ("1e3", "Enter the amount as a number, like 10 or 10.50."),
        ("+25", "Enter the amount as a number, like 10 or 10.50."),
        ("abc", NOT_A_NUMBER),
        ("10 USD", NOT_A_NUMBER),
        ("$10", NOT_A_NUMBER),
        ("0x10", NOT_A_NUMBER),
        ("NaN", NOT_A_NUMBER),
        ("sNaN", NOT_A_NUMBER),
        ("Infinity", NOT_A_NUMBER),
        ("-inf", NOT_A_NUMBER),
        ("10.005", "USD amounts have at most 2 decimals."),
        ("25.001", "USD amounts have at most 2 decimals."),
        ("0.99", SMALLEST_USD),
        ("10000.01", "The largest gift we take online is $10,000.00."),
        ("99999999999999999999", "That amount is too large."),
        ("1" * 21, "Ensure this value has at most 20 characters (it has 21)."),
        ("25\x00", "Null characters are not allowed."),
    ],
)
def test_an_amount_that_is_missing_unreadable_or_out_of_bounds_is_refused(client, amount, reason):
    assert_refused(start(client, amount=amount), "amount", reason)


@pytest.mark.parametrize(
    ("typed", "minor"),
    [
        ("1,000.00", 100000),
        ("1,000", 100000),
        ("1 000", 100000),
        ("25.", 2500),
        ("1.5", 150),
        ("10,50", 1050),
    ],
)
def test_thousands_separators_spaces_and_a_decimal_comma_are_read_as_people_mean_them(typed, minor):
    """ "1,000" is a thousand; "10,50" (a decimal comma) is ten and a half."""
    form = DonationForm({"amount": typed, "currency": "USD", "email": "guest@example.org"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount_minor"] == minor


def test_an_amount_with_thousands_separators_passes_the_form_and_goes_on_to_stripe(client):
    response = start(client, amount="1,000.00")

    assert response.status_code == 502  # past the form: only the closed Stripe port stopped it
    assert nothing_stored()


def test_a_decimal_comma_is_never_read_as_a_hundred_times_the_gift():
    form = DonationForm({"amount": "10,50", "currency": "EUR", "email": "guest@example.org"})

    valid = form.is_valid()

    assert not valid or form.cleaned_data["amount_minor"] == 1050
    assert valid or "amount" in form.errors


@pytest.mark.parametrize("amount", ["1e999999", "-1e999999", "1e999999999999999999"])
def test_an_amount_with_an_exponent_is_refused_as_not_a_plain_number(client, amount):
    assert_refused(start(client, amount=amount), "amount", "as a number")


def test_decimals_are_refused_for_a_zero_decimal_currency(client, settings):
    settings.PATRONAGE_CURRENCIES = "USD:100:1000000,JPY:100:1000000"

    assert_refused(start(client, amount="100.5", currency="JPY"), "amount", "no decimals")


def test_a_whole_yen_amount_is_accepted_as_whole_units(settings):
    settings.PATRONAGE_CURRENCIES = "USD:100:1000000,JPY:100:1000000"

    form = DonationForm({"amount": "1,500", "currency": "JPY", "email": "guest@example.org"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount_minor"] == 1500


@pytest.mark.parametrize(("amount", "shown"), [("0.49", "$0.50"), ("0.10", "$0.50")])
def test_stripe_minimum_wins_over_a_lower_configured_minimum(client, settings, amount, shown):
    settings.PATRONAGE_CURRENCIES = "USD:10:1000000"

    assert_refused(start(client, amount=amount), "amount", f"The smallest gift is {shown}.")


def test_the_stripe_minimum_itself_is_accepted_when_the_configured_minimum_is_lower(settings):
    settings.PATRONAGE_CURRENCIES = "USD:10:1000000"

    form = DonationForm({"amount": "0.50", "currency": "USD", "email": "guest@example.org"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount_minor"] == 50


# --- Currency -----------------------------------------------------------------------


@pytest.mark.parametrize("currency", [None, "", "XXX", "usd", "US", "USDX", "JPY", "<b>"])
def test_a_currency_not_offered_is_refused(client, currency):
    """Only the exact codes offered (upper case) are choices; JPY is not offered by default."""
    reason = REQUIRED if not currency else NOT_A_CHOICE
    assert_refused(start(client, currency=currency), "currency", reason)


# --- Email, name, attribution, honeypot -----------------------------------------------

LONG_EMAIL = "reader@" + "a" * 240 + ".example.org"  # 259 characters


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        (None, REQUIRED),
        ("", REQUIRED),
        ("not-an-email", "Enter a valid email address."),
        ("guest@", "Enter a valid email address."),
        ("guest@example.org<script>", "Enter a valid email address."),
        ("guest@example.org\nBcc: x@example.org", "Enter a valid email address."),
        (LONG_EMAIL, "Ensure this value has at most 254 characters (it has 259)."),
    ],
)
def test_a_guest_without_a_valid_email_is_refused(client, email, reason):
    assert_refused(start(client, email=email), "email", reason)


def test_an_email_that_grows_when_lower_cased_never_breaks_the_gift(client):
    email = "reader@" + ".".join(["b" * 62 + "İ"] * 3) + "." + "c" * 55
    assert len(email) == 254

    response = start(client, email=email)

    assert response.status_code in (400, 502)
    assert nothing_stored()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("<script>alert(1)</script>", NO_MARKUP),
        ("Olena <b>", NO_MARKUP),
        ("Olena\x07", NO_MARKUP),
        ("Olena\r\nBcc: x@example.org", NO_MARKUP),
        ("x" * 201, "Ensure this value has at most 200 characters (it has 201)."),
    ],
)
def test_a_name_with_markup_control_characters_or_too_long_is_refused(client, name, reason):
    assert_refused(start(client, name=name), "name", reason)


ATTRIBUTION = ["campaign", "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"]


@pytest.mark.parametrize("field", ATTRIBUTION)
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("<b>x</b>", id="tag"),
        pytest.param('x" onmouseover="alert(1)', id="quote"),
    ],
)
def test_attribution_with_markup_is_refused(client, field, value):
    assert_refused(start(client, **{field: value}), field, TRACKING_ONLY)


@pytest.mark.parametrize("field", ATTRIBUTION)
def test_attribution_longer_than_its_column_is_refused(client, field):
    assert_refused(
        start(client, **{field: "x" * 101}),
        field,
        "Ensure this value has at most 100 characters (it has 101).",
    )


@pytest.mark.parametrize("field", ATTRIBUTION)
def test_attribution_with_the_allowed_punctuation_is_accepted(field):
    data = {"amount": "25", "currency": "USD", "email": "guest@example.org"}
    form = DonationForm({**data, field: "spring_2025-a.b+c~d%20e/f:g h"})

    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("<script>alert(1)</script>", "slug"),
        ("energy grid", "slug"),
        ("../../admin", "slug"),
        ("x" * 201, "Ensure this value has at most 200 characters (it has 201)."),
    ],
)
def test_a_source_that_is_not_a_slug_is_refused(client, source, reason):
    assert_refused(start(client, source=source), "source", reason)


def test_a_filled_honeypot_is_refused(client):
    assert_refused(
        start(client, website="https://spam.example"), "website", "Please leave this field empty."
    )


# --- A signed-in member gives as themselves -------------------------------------------


@pytest.mark.parametrize("posted", ["someone.else@example.org", "not an email", None])
def test_a_signed_in_member_gives_under_their_own_address_whatever_email_is_posted(
    client, localstripe, settings, posted
):
    settings.STRIPE_API_BASE = localstripe
    member = UserFactory(email="member@example.org")
    client.force_login(member)

    response = start(client, email=posted)

    assert response.status_code == 200, response.content
    donation = Donation.objects.select_related("donor").get()
    assert donation.donor.email == "member@example.org"
    assert donation.user == member
    assert Donor.objects.count() == 1


# --- The page and the other endpoints -------------------------------------------------


def test_the_give_page_escapes_attribution_taken_from_the_link(client):
    response = client.get(
        reverse("payments:give"),
        {"from": "<script>alert(1)</script>", "utm_source": "<b>x</b>", "campaign": '"><i>'},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "<b>x</b>" not in html
    assert '"><i>' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_the_give_page_renders_for_a_currency_not_offered(client):
    response = client.get(reverse("payments:give"), {"currency": "ZZZ"})

    assert response.status_code == 200
    assert '<option value="USD"' in response.content.decode()


def test_the_give_page_preselects_a_currency_named_in_lower_case(client):
    response = client.get(reverse("payments:give"), {"currency": "eur"})

    assert '<option value="EUR" selected>' in response.content.decode()


def test_the_give_page_renders_when_the_link_carries_a_nul_byte(client):
    response = client.get(reverse("payments:give") + "?from=%00x")

    assert response.status_code == 200


def test_give_start_only_answers_post(client):
    assert client.get(reverse("payments:give_start")).status_code == 405


def test_thanks_and_pay_for_an_unknown_gift_are_not_found(client):
    public_id = uuid.uuid4()

    assert client.get(reverse("payments:give_thanks", args=[public_id])).status_code == 404
    assert client.post(reverse("payments:give_pay", args=[public_id])).status_code == 404
    assert client.get(reverse("payments:give_pay", args=[public_id])).status_code == 405
    assert client.get("/give/not-a-uuid/thanks").status_code == 404
    assert nothing_stored()


def test_a_post_without_the_csrf_token_is_forbidden_and_stores_nothing():
    browser = Client(enforce_csrf_checks=True)

    response = browser.post(
        reverse("payments:give_start"),
        {"amount": "25", "currency": "USD", "email": "guest@example.org"},
    )

    assert response.status_code == 403
    assert nothing_stored()


def test_a_post_with_the_page_csrf_token_gets_past_the_csrf_check():
    browser = Client(enforce_csrf_checks=True)
    browser.get(reverse("payments:give"))

    response = browser.post(
        reverse("payments:give_start"),
        {"amount": "25", "currency": "USD", "email": "guest@example.org"},
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )

    assert response.status_code == 502  # past CSRF and the form; only Stripe is missing
    assert nothing_stored()


def test_a_gift_from_an_article_not_yet_known_keeps_its_slug(client, localstripe, settings):
    settings.STRIPE_API_BASE = localstripe

    page = client.get(reverse("payments:give") + "?from=published-tomorrow")
    response = start(client, source="published-tomorrow")

    assert "after reading" not in page.content.decode()
    assert response.status_code == 200, response.content
    assert Donation.objects.get().article_slug == "published-tomorrow"
