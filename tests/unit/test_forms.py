"""The reader-facing forms on their own: what each accepts, cleans and refuses.

No request and no database: tests/payments/test_donation_form.py and the members
tests post the same forms through their pages.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from members.forms import (
    CancelMembershipForm,
    ChangeMembershipForm,
    GiftForm,
    JoinForm,
    ProfileForm,
)
from payments.forms import DonationForm


@pytest.fixture(autouse=True)
def currencies(settings):
    settings.PATRONAGE_CURRENCIES = "USD:100:1000000,EUR:300:50000,JPY:100:1000000"


def gift(**fields) -> dict:
    data = {"amount": "25", "currency": "USD", "email": "guest@example.org", **fields}
    return {name: value for name, value in data.items() if value is not None}


def errors(form) -> dict[str, list[str]]:
    assert not form.is_valid()
    return {field: [str(e) for e in found] for field, found in form.errors.items()}


# --- Giving once ------------------------------------------------------------------------


def test_a_valid_gift_is_cleaned_to_minor_units_and_a_lower_case_email():
    form = DonationForm(gift(amount="1,250.50", email="  Guest@Example.ORG ", cover_fees="on"))

    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount_minor"] == 125050
    assert form.cleaned_data["email"] == "guest@example.org"
    assert form.cleaned_data["cover_fees"] is True


PLAIN_TEXT = "Please use letters, numbers and ordinary punctuation only."
TRACKING = "Only letters, numbers and - _ . + ~ % / : are allowed here."
TOO_LARGE = "The largest gift we take online is €500.00."
NOT_OFFERED = "Select a valid choice. GBP is not one of the available choices."


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"amount": "2.99", "currency": "EUR"}, "amount", "The smallest gift is €3.00."),
        ({"amount": "501", "currency": "EUR"}, "amount", TOO_LARGE),
        ({"amount": "0.5", "currency": "USD"}, "amount", "The smallest gift is $1.00."),
        ({"amount": "100.5", "currency": "JPY"}, "amount", "JPY amounts have no decimals."),
        ({"amount": "ten"}, "amount", "Enter the amount as a number, like 10 or 10.50."),
        ({"currency": "GBP"}, "currency", NOT_OFFERED),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"email": None}, "email", "This field is required."),
        ({"website": "http://spam.example"}, "website", "Please leave this field empty."),
        ({"name": "<script>"}, "name", PLAIN_TEXT),
        ({"name": "Ann\u202e"}, "name", PLAIN_TEXT),
        ({"utm_source": "news letter!"}, "utm_source", TRACKING),
        ({"source": "not a slug"}, "source", None),
    ],
)
def test_a_gift_the_form_refuses_says_why_on_the_right_field(fields, field, message):
    found = errors(DonationForm(gift(**fields)))

    assert list(found) == [field]
    if message:
        assert found[field] == [message]


def test_a_signed_in_member_gives_as_themselves_whatever_email_is_posted():
    form = DonationForm(gift(email="someone.else@example.org"), member_email="Member@Example.org")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["email"] == "member@example.org"
    assert form.fields["email"].disabled


def test_the_link_sets_the_currency_article_and_campaign():
    initial = DonationForm.initial_from_link(
        {"currency": "eur", "from": "war-diary", "utm_source": "newsletter"}, amount="10"
    )
    plain = DonationForm.initial_from_link({})

    assert initial["currency"] == "EUR"
    assert (initial["source"], initial["utm_source"], initial["amount"]) == (
        "war-diary",
        "newsletter",
        "10",
    )
    assert initial["utm_medium"] == ""
    assert plain["currency"] == "USD"  # the first offered


# --- Joining and changing a membership ----------------------------------------------------


def test_joining_takes_a_monthly_or_yearly_amount():
    yearly = JoinForm(
        {"amount": "60", "currency": "EUR", "interval": "year"}, member_email="m@x.org"
    )
    weekly = JoinForm(
        {"amount": "60", "currency": "EUR", "interval": "week"}, member_email="m@x.org"
    )
    guest = JoinForm({"amount": "60", "currency": "EUR", "interval": "year", "email": "A@X.org"})

    assert yearly.is_valid(), yearly.errors
    assert (yearly.cleaned_data["amount_minor"], yearly.cleaned_data["interval"]) == (6000, "year")
    assert yearly.cleaned_data["email"] == "m@x.org"
    assert list(errors(weekly)) == ["interval"]
    assert guest.is_valid() and guest.cleaned_data["email"] == "a@x.org"
    assert list(errors(JoinForm({"amount": "60", "currency": "EUR", "interval": "year"}))) == [
        "email"
    ]


@pytest.mark.parametrize(
    ("currency", "typed", "amount", "message"),
    [
        ("EUR", "12,50", 1250, None),
        ("JPY", "1,000", 1000, None),
        ("JPY", "1000.5", None, "JPY amounts have no decimals."),
        ("EUR", "1", None, "The smallest gift is €3.00."),
        ("EUR", "", None, "This field is required."),
    ],
)
def test_a_new_amount_is_read_in_the_members_own_currency(currency, typed, amount, message):
    form = ChangeMembershipForm({"amount": typed, "interval": "month"}, currency=currency)

    if message is None:
        assert form.is_valid(), form.errors
        assert form.cleaned_data["amount"] == amount
    else:
        assert errors(form) == {"amount": [message]}


def test_a_cancellation_reason_is_optional_plain_and_bounded():
    assert CancelMembershipForm({}).is_valid()
    assert CancelMembershipForm({"reason": "Moving abroad.\u00a0Thanks!"}).is_valid()
    assert list(errors(CancelMembershipForm({"reason": "<b>bye</b>"}))) == ["reason"]
    assert list(errors(CancelMembershipForm({"reason": "x" * 501}))) == ["reason"]


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("", True),
        ("Ольга Петренко", True),
        ("Ann <Admin>", False),
        ("A\x00n", False),
        ("x" * 151, False),
    ],
)
def test_a_display_name_is_plain_text_of_at_most_150_characters(name, valid):
    assert ProfileForm({"display_name": name}).is_valid() is valid


# --- Gift memberships ----------------------------------------------------------------------


def gift_membership(**fields) -> dict:
    data = {
        "currency": "EUR",
        "email": "giver@example.org",
        "name": "Giver",
        "months": "3",
        "recipient_email": "Friend@Example.ORG",
        "send_on": timezone.localdate().isoformat(),
        **fields,
    }
    return {name: value for name, value in data.items() if value is not None}


def test_a_gift_membership_without_an_amount_is_left_at_the_standard_price():
    form = GiftForm(gift_membership(message="Happy birthday!\r\nFrom all of us"))

    assert form.is_valid(), form.errors
    assert "amount" not in form.cleaned_data and "amount_minor" not in form.cleaned_data
    assert form.cleaned_data["months"] == 3
    assert form.cleaned_data["recipient_email"] == "friend@example.org"
    assert form.cleaned_data["message"] == "Happy birthday!\nFrom all of us"


def test_a_gift_membership_may_name_a_larger_amount():
    form = GiftForm(gift_membership(amount="40"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount_minor"] == 4000


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"months": "2"}, "months"),
        ({"send_on": (timezone.localdate() - timedelta(days=1)).isoformat()}, "send_on"),
        ({"send_on": (timezone.localdate() + timedelta(days=400)).isoformat()}, "send_on"),
        ({"message": "Fine line\n<img src=x>"}, "message"),
        ({"message": "x" * 1001}, "message"),
        ({"name": None}, "name"),
        ({"recipient_email": "friend"}, "recipient_email"),
        ({"recipient_name": "\u2066Bob"}, "recipient_name"),
    ],
)
def test_a_gift_membership_the_form_refuses(fields, field):
    assert list(errors(GiftForm(gift_membership(**fields)))) == [field]
