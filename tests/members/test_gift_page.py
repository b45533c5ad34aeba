"""The gift page and the claim page as readers see them (issue 13, item 4): the level a gift
gives and its perks, the price for the months already in the amount box and on the button,
and the recipient's email carried into the sign-up form."""

from html import unescape

import pytest
from django.urls import reverse

from members.models import LevelAmount, MembershipLevel
from tests.factories import GiftMembershipFactory, UserFactory

pytestmark = pytest.mark.usefixtures("levels")


@pytest.fixture
def levels(db):
    """Two levels in EUR, as tests/members/test_gifts.py has them: the cheapest monthly
    price (5.00, Supporter) sets the gift's price and the level it gives."""
    supporter = MembershipLevel.objects.create(name="Supporter", slug="supporter", position=1)
    insider = MembershipLevel.objects.create(name="Insider", slug="insider", position=2)
    LevelAmount.objects.create(level=supporter, currency="EUR", interval="month", amount=500)
    LevelAmount.objects.create(level=insider, currency="EUR", interval="month", amount=1500)
    LevelAmount.objects.create(level=supporter, currency="EUR", interval="year", amount=5000)


@pytest.fixture
def perks(levels):
    MembershipLevel.objects.filter(slug="supporter").update(
        description="The members' newsletter\nOur thanks in the annual report"
    )


def test_the_gift_page_names_the_level_it_gives_and_its_perks(client, perks):
    page = client.get(reverse("gifts:give") + "?currency=EUR")
    html = unescape(page.content.decode())

    assert "They become <span data-level-name>Supporter</span> members" in html
    assert "<li>The members' newsletter</li><li>Our thanks in the annual report</li>" in html
    assert page.context["page_data"]["levels"] == {
        "EUR": {
            "name": "Supporter",
            "perks": ["The members' newsletter", "Our thanks in the annual report"],
        }
    }


def test_the_price_for_the_months_starts_in_the_amount_box_and_on_the_button(client):
    html = client.get(reverse("gifts:give") + "?currency=EUR").content.decode()

    assert '<option value="12" selected>12 months</option>' in html
    assert 'name="amount" value="60.00"' in html
    assert '<button type="submit" id="gift-button">Give 12 months for €60</button>' in html
    assert "Add €2.05 to cover card fees — total €62.05" in html
    assert "Leave empty" not in html
    assert "The price for the months chosen. You may give more." in html


def test_without_a_price_in_the_currency_the_box_starts_empty_and_no_level_is_named(client):
    html = client.get(reverse("gifts:give") + "?currency=USD").content.decode()

    assert 'name="amount" value=' not in html
    assert '<section class="card gift-level" id="gift-level" aria-live="polite" hidden>' in html
    assert '<button type="submit" id="gift-button">Pay and give</button>' in html


def test_the_join_page_links_to_gift_memberships(client):
    html = client.get(reverse("members:join")).content.decode()

    assert f'<a href="{reverse("gifts:give")}">Give a membership as a gift</a>' in html


def test_the_site_header_links_to_gift_memberships(client):
    html = client.get(reverse("home")).content.decode()

    header = html[: html.index("</header>")]
    assert f'<a href="{reverse("gifts:give")}">Give a membership</a>' in header


def test_the_claim_page_prefills_the_recipients_email_in_the_sign_up(client, perks):
    gift = GiftMembershipFactory(recipient_email="sam+news@example.org", claim_token="tok-1")
    path = reverse("gifts:claim", args=[gift.claim_token])

    html = client.get(path).content.decode()

    signup = f"{reverse('account_signup')}?next={path}&amp;email=sam%2Bnews%40example.org"
    assert f'href="{signup}"' in html
    form = client.get(unescape(signup)).content.decode()
    assert 'value="sam+news@example.org"' in form


def test_the_claim_page_names_the_level_and_its_perks(client, perks):
    gift = GiftMembershipFactory(months=3, claim_token="tok-2")

    html = unescape(client.get(reverse("gifts:claim", args=[gift.claim_token])).content.decode())

    assert "3 months of Supporter membership" in html
    assert "<li>Our thanks in the annual report</li>" in html


def test_a_signed_in_reader_claims_with_their_own_account(client):
    client.force_login(UserFactory(email="reader@example.org"))
    gift = GiftMembershipFactory(claim_token="tok-3")

    html = client.get(reverse("gifts:claim", args=[gift.claim_token])).content.decode()

    assert "Claim my membership" in html
    assert "reader@example.org" in html
