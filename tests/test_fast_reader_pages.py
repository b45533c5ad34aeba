"""The pages a reader opens from an article (give, join, gift) come from the cache for
guests: no query, no rendering, yet each guest gets their own CSRF token and can post with
it; a signed-in reader never gets a guest's page; the page varies with what the link and
the Referer say, and is rendered afresh when what it shows changes (payments/pages.py)."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.messages import constants as message_levels
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from members.models import LevelAmount, MembershipLevel
from tests.factories import ArticleFactory, SuggestedAmountFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGES = ["payments:give", "members:join", "gifts:give"]
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


@pytest.fixture(autouse=True)
def prices(db, settings):
    """A default suggestion in USD and EUR, two levels priced in both, monthly and yearly;
    Stripe at a closed port (a start that got past the form would answer 502)."""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    for currency in ("USD", "EUR"):
        SuggestedAmountFactory(currency=currency, amount=1000, is_default=True)
    supporter = MembershipLevel.objects.create(name="Supporter", slug="supporter", position=1)
    insider = MembershipLevel.objects.create(name="Insider", slug="insider", position=2)
    for level, monthly in ((supporter, 500), (insider, 1500)):
        for currency in ("USD", "EUR"):
            LevelAmount.objects.create(
                level=level, currency=currency, interval="month", amount=monthly
            )
            LevelAmount.objects.create(
                level=level, currency=currency, interval="year", amount=monthly * 10
            )


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return unescape(response.content.decode())


def without_token(response) -> str:
    return TOKEN.sub("", html(response))


def token_in(response) -> str:
    found = TOKEN.findall(html(response))
    assert len(found) == 1, found
    return found[0]


def signed_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


# --- From the cache, for every guest -----------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_a_guest_page_is_served_from_the_cache_with_no_query(page, django_assert_num_queries):
    first = Client().get(reverse(page), {"from": "night-shift"})

    with django_assert_num_queries(0):
        again = Client().get(reverse(page), {"from": "night-shift"})

    assert again.context is None  # nothing rendered
    assert without_token(again) == without_token(first)


@pytest.mark.parametrize("page", PAGES)
def test_each_guest_gets_their_own_csrf_token_and_its_cookie(page):
    first, second = Client(), Client()
    first.get(reverse(page))

    cached = second.get(reverse(page))

    token = token_in(cached)
    assert token != token_in(first.get(reverse(page)))
    assert len(token) == 64 and token.isalnum()
    assert "csrftoken" in cached.cookies


def test_a_guest_posts_the_form_of_a_cached_page_with_its_token():
    Client().get(reverse("payments:give"))  # another guest fills the cache
    guest = Client(enforce_csrf_checks=True)
    page = guest.get(reverse("payments:give"))
    assert page.context is None  # from the cache

    answer = guest.post(
        reverse("payments:give_start"),
        {"amount": "0", "currency": "USD", "email": "guest@example.org"},
        headers={"X-CSRFToken": token_in(page)},
    )

    # Past the CSRF check (403), refused by the form: the token and cookie work together
    assert answer.status_code == 400, answer.content
    assert set(answer.json()["errors"]) == {"amount"}


def test_a_post_without_the_pages_token_is_still_refused():
    guest = Client(enforce_csrf_checks=True)
    guest.get(reverse("payments:give"))
    guest.get(reverse("payments:give"))

    answer = guest.post(
        reverse("payments:give_start"),
        {"amount": "10", "currency": "USD", "email": "guest@example.org"},
    )

    assert answer.status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_a_guest_page_is_private_to_the_browser(page):
    Client().get(reverse(page))

    cached = Client().get(reverse(page))

    assert set(cached["Cache-Control"].split(", ")) == {"private", "no-cache"}
    assert "Cookie" in cached["Vary"]


# --- Signed-in readers get their own page ------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_a_member_never_gets_the_guests_cached_page(page):
    Client().get(reverse(page))  # the guests' page is cached
    member = UserFactory(email="reader@example.org")

    mine = html(signed_in(member).get(reverse(page)))

    assert "reader@example.org" in mine
    assert "Sign out" in mine and "Create account" not in mine


@pytest.mark.parametrize("page", PAGES)
def test_a_guest_never_gets_a_members_page(page):
    member = UserFactory(email="reader@example.org")
    signed_in(member).get(reverse(page))
    signed_in(member).get(reverse(page))

    guests = html(Client().get(reverse(page)))

    assert "reader@example.org" not in guests
    assert "Sign out" not in guests and "Create account" in guests


def test_a_guest_with_a_message_waiting_sees_it_on_a_cached_page():
    Client().get(reverse("payments:give"))  # the guests' page is cached
    guest = Client()
    waiting = CookieStorage(RequestFactory().get("/"))
    waiting.add(message_levels.INFO, "You have signed out.")
    carrier = HttpResponse()
    waiting.update(carrier)
    guest.cookies["messages"] = carrier.cookies["messages"].value

    assert "You have signed out." in html(guest.get(reverse("payments:give")))
    assert "You have signed out." not in html(guest.get(reverse("payments:give")))


# --- What the cached page varies on ------------------------------------------------------


def test_the_give_page_varies_with_the_currency():
    Client().get(reverse("payments:give"), {"currency": "USD"})

    eur = html(Client().get(reverse("payments:give"), {"currency": "EUR"}))

    assert '<option value="EUR" selected>' in eur
    assert "Give €10" in eur


def test_the_join_page_varies_with_the_amount_and_the_interval():
    Client().get(reverse("members:join"), {"currency": "USD"})

    linked = html(Client().get(reverse("members:join"), {"currency": "USD", "amount": "15.00"}))
    yearly = html(Client().get(reverse("members:join"), {"currency": "USD", "interval": "year"}))

    assert "Join for $15 a month" in linked
    assert "Join for $50 a year" in yearly


@pytest.mark.parametrize("page", PAGES)
def test_the_page_varies_with_the_article_the_reader_came_from(page):
    ArticleFactory(slug="night-shift", title="The night shift")
    ArticleFactory(slug="war-diary", title="A war diary")
    Client().get(reverse(page), {"from": "night-shift"})

    other = html(Client().get(reverse(page), {"from": "war-diary"}))

    assert 'name="source" value="war-diary"' in other
    assert "night-shift" not in other


@pytest.mark.parametrize("page", PAGES)
def test_the_page_varies_with_the_referring_page(page):
    Client().get(reverse(page), headers={"Referer": "https://news.example.org/a"})

    other = html(Client().get(reverse(page), headers={"Referer": "https://news.example.org/b"}))

    assert 'name="referrer" value="https://news.example.org/b"' in other


def test_the_join_pages_sign_in_link_comes_back_to_the_readers_own_link():
    Client().get(reverse("members:join"), {"from": "night-shift"})

    other = html(Client().get(reverse("members:join"), {"from": "war-diary"}))

    assert "next=/join/%3Ffrom%3Dwar-diary" in other


def test_the_gift_page_of_yesterday_is_not_served_today(monkeypatch):
    today = timezone.localdate()
    Client().get(reverse("gifts:give"))

    monkeypatch.setattr(timezone, "localdate", lambda *args: today + timedelta(days=1))
    tomorrow = html(Client().get(reverse("gifts:give")))

    assert f'min="{(today + timedelta(days=1)).isoformat()}"' in tomorrow


# --- Rendered afresh when what it shows changes --------------------------------------------


def test_a_new_default_suggestion_shows_at_once_on_the_give_page():
    Client().get(reverse("payments:give"), {"currency": "USD"})

    SuggestedAmountFactory(currency="USD", amount=2500, is_default=True)
    SuggestedAmountFactory._meta.model.objects.filter(currency="USD", amount=1000).delete()

    assert "Give $25" in html(Client().get(reverse("payments:give"), {"currency": "USD"}))


@pytest.mark.parametrize(
    "page, says", [("members:join", "$7 a month"), ("gifts:give", "Give 12 months for $84")]
)
def test_a_new_price_shows_at_once_on_the_join_and_gift_pages(page, says):
    Client().get(reverse(page), {"currency": "USD"})

    price = LevelAmount.objects.get(level__slug="supporter", currency="USD", interval="month")
    price.amount = 700
    price.save()

    assert says in html(Client().get(reverse(page), {"currency": "USD"}))


def test_a_renamed_level_shows_at_once_on_the_join_page():
    Client().get(reverse("members:join"))

    level = MembershipLevel.objects.get(slug="insider")
    level.name = "Patron"
    level.save()

    assert "Patron" in html(Client().get(reverse("members:join")))


@pytest.mark.parametrize("page", ["payments:give", "members:join"])
def test_an_article_retitled_shows_at_once(page):
    article = ArticleFactory(slug="night-shift", title="The night shift")
    Client().get(reverse(page), {"from": "night-shift"})

    article.title = "The night shift, revisited"
    article.save()

    assert "The night shift, revisited" in html(
        Client().get(reverse(page), {"from": "night-shift"})
    )


def test_a_changed_setting_shows_at_once(settings):
    Client().get(reverse("payments:give"))

    settings.ORGANIZATION_NAME = "The Harbour Gazette"

    assert "The Harbour Gazette" in html(Client().get(reverse("payments:give")))


# --- The support-block API's plain view -----------------------------------------------------


def test_the_support_block_answers_get_and_refuses_other_methods_as_before():
    browser = Client(enforce_csrf_checks=True)
    assert browser.get("/api/support-block/night-shift").json()["variant"] == "ask"

    for method in ("post", "put", "delete"):
        refused = getattr(browser, method)("/api/support-block/night-shift")
        assert refused.status_code == 405
        assert refused["Allow"] == "GET"


def test_the_openapi_schema_still_describes_the_support_block(client):
    operation = client.get("/api/openapi.json").json()["paths"]["/api/support-block/{slug}"]

    assert set(operation) == {"get"}
    assert operation["get"]["operationId"] == "support_block"
