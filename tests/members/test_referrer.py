"""Attribution keeps the page that sent the reader (`referrer`), from the link's `?ref=` or
the browser's Referer when the give, join or gift page opens: http(s) only, at most 500
characters, no control characters; anything else is dropped, never an error. The ledger
row copies it from the gift or membership, with the article's slug."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from members.forms import GiftForm, JoinForm
from members.models import GiftMembership, LevelAmount, MembershipLevel
from members.states import MembershipStatus
from payments.forms import DonationForm, valid_referrer
from payments.models import Donation
from tests.factories import UserFactory
from tests.members.memberships import join, refreshed
from tests.payments.donations import give, recorded_payment
from tests.support.stripejs import create_payment_method

STORY = "https://news.example.org/2026/11/the-grid-story/?utm_source=x#comments"

BAD = [
    pytest.param("javascript:alert(1)", id="javascript"),
    pytest.param("ftp://news.example.org/story", id="ftp"),
    pytest.param("data:text/html,<script>alert(1)</script>", id="data"),
    pytest.param("//news.example.org/story", id="no-scheme"),
    pytest.param("/2026/11/story", id="relative"),
    pytest.param("http://", id="no-host"),
    pytest.param("https://news.example.org/a\nb", id="newline"),
    pytest.param("https://news.example.org/a\x00b", id="nul"),
    pytest.param("https://news.example.org/a b", id="space"),
    pytest.param("https://news.example.org/\u202eevil", id="bidi-override"),
    pytest.param("https://user:secret@news.example.org/", id="credentials"),
    pytest.param("https://[::1/story", id="broken-ipv6"),
    pytest.param("https://news.example.org/" + "x" * 476, id="501-long"),
]


def hidden_referrer(page) -> str:
    """The value of the page's hidden `referrer` field (what the form will post)."""
    found = re.search(r'<input type="hidden" name="referrer" value="([^"]*)">', page)
    assert found, "no hidden referrer field"
    return found.group(1)


@pytest.fixture
def levels(db):
    supporter = MembershipLevel.objects.create(name="Supporter", slug="supporter")
    LevelAmount.objects.create(level=supporter, currency="EUR", interval="month", amount=500)


# --- The pages carry it ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "page", [reverse("payments:give"), reverse("gifts:give"), reverse("members:join")]
)
def test_each_page_carries_the_link_ref_or_else_the_referer(client, levels, page):
    client.force_login(UserFactory())  # the join form shows to a signed-in reader

    from_link = client.get(page, {"ref": STORY}, HTTP_REFERER="https://social.example/x")
    from_header = client.get(page, HTTP_REFERER="https://social.example/post/1")
    nothing = client.get(page)

    assert hidden_referrer(from_link.content.decode()) == STORY.replace("&", "&amp;")
    assert hidden_referrer(from_header.content.decode()) == "https://social.example/post/1"
    assert hidden_referrer(nothing.content.decode()) == ""


@pytest.mark.parametrize("value", BAD)
def test_a_bad_referrer_is_dropped_from_the_page(client, db, value):
    bad_link = client.get(reverse("payments:give"), {"ref": value})
    bad_header = client.get(reverse("payments:give"), HTTP_REFERER=value)

    assert hidden_referrer(bad_link.content.decode()) == ""
    assert hidden_referrer(bad_header.content.decode()) == ""


def test_a_bad_ref_falls_back_to_a_good_referer(client, db):
    page = client.get(
        reverse("payments:give"), {"ref": "javascript:x"}, HTTP_REFERER="https://a.example/"
    )

    assert hidden_referrer(page.content.decode()) == "https://a.example/"


def test_a_reader_who_signs_in_to_join_comes_back_with_the_referrer(client, db):
    page = client.get(
        reverse("members:join"), {"from": "war-diary"}, HTTP_REFERER="https://a.example/s"
    )

    body = page.content.decode()
    assert "?next=/join/%3Ffrom%3Dwar-diary%26ref%3Dhttps%253A%252F%252Fa.example%252Fs" in body


# --- The forms drop, never refuse ----------------------------------------------------------


@pytest.mark.parametrize("value", BAD)
def test_the_forms_drop_a_bad_referrer_and_stay_valid(value):
    data = {"amount": "25", "currency": "EUR", "email": "guest@example.org", "referrer": value}
    forms = [
        DonationForm(data),
        JoinForm({**data, "interval": "month"}),
        GiftForm(
            {
                **data,
                "name": "Jo",
                "months": "3",
                "recipient_email": "friend@example.org",
                "send_on": timezone.localdate().isoformat(),
            }
        ),
    ]

    for form in forms:
        assert form.is_valid(), form.errors
        assert form.attribution()["referrer"] == ""


def test_a_good_referrer_is_kept_exactly_and_500_characters_is_the_limit():
    longest = "https://news.example.org/" + "x" * 475

    assert valid_referrer(STORY) == STORY
    assert valid_referrer("  HTTP://News.Example.org/Story  ") == "HTTP://News.Example.org/Story"
    assert valid_referrer(longest) == longest and len(longest) == 500
    assert valid_referrer(None) == ""


# --- Stored with the money, copied to the ledger ---------------------------------------


def test_a_gift_keeps_its_referrer_and_the_ledger_row_copies_it(client, tasks, stripe_webhooks):
    give(client, source="unknown-slug", referrer=STORY)

    donation = Donation.objects.get()
    payment = recorded_payment(donation=donation)
    assert (donation.article_slug, donation.referrer) == ("unknown-slug", STORY)
    assert (payment.article_slug, payment.referrer) == ("unknown-slug", STORY)


def test_a_membership_keeps_its_referrer_and_its_payments_copy_it(client, tasks, stripe_webhooks):
    client.force_login(UserFactory())

    membership = join(client, source="war-diary", referrer="https://a.example/s")

    membership = refreshed(membership, status=MembershipStatus.ACTIVE)
    assert membership.referrer == "https://a.example/s"
    payment = recorded_payment(stripe_invoice_id__isnull=False)
    assert (payment.article_slug, payment.referrer) == ("war-diary", "https://a.example/s")


def test_a_gift_membership_keeps_the_referrer_and_a_bad_one_is_dropped(
    client, levels, tasks, stripe_webhooks
):
    fields = {
        "months": "3",
        "currency": "EUR",
        "email": "giver@example.org",
        "name": "Jo Giver",
        "recipient_email": "friend@example.org",
        "send_on": timezone.localdate().isoformat(),
        "source": "special-report",
    }
    kept = client.post(reverse("gifts:start"), {**fields, "referrer": STORY})
    dropped = client.post(reverse("gifts:start"), {**fields, "referrer": "javascript:x"})
    assert kept.status_code == dropped.status_code == 200, dropped.content

    gift = GiftMembership.objects.get(public_id=kept.json()["gift"])
    assert (gift.referrer, gift.donation.referrer, gift.article_slug) == (
        STORY,
        STORY,
        "special-report",
    )
    assert GiftMembership.objects.get(public_id=dropped.json()["gift"]).referrer == ""
    card_entered = {"payment_method": create_payment_method()}
    assert client.post(kept.json()["payUrl"], card_entered).json()["status"] == "succeeded"
    payment = recorded_payment(donation=gift.donation)
    assert payment.referrer == STORY
