"""Guest pages (/give/, /join/, /gift/) kept in each process's memory besides the shared
cache (payments/pages.py, READER_PAGE_LOCAL_SECONDS): a repeat costs no round trip to
the cache; a change made in this process shows at once, one made elsewhere within
READER_PAGE_LOCAL_SECONDS; every guest still gets their own CSRF token."""

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from payments import pages
from payments.models import SuggestedAmount
from tests.conftest import clear_cache
from tests.factories import SuggestedAmountFactory

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


@pytest.fixture(autouse=True)
def suggestion():
    return SuggestedAmountFactory(currency="USD", amount=1000, is_default=True)


@pytest.fixture
def shared_reads(monkeypatch):
    """The guest pages asked of the shared cache."""
    calls = []
    real = pages._shared_page

    def counted(request, key, page):
        calls.append(key)
        return real(request, key, page)

    monkeypatch.setattr(pages, "_shared_page", counted)
    return calls


def give_page() -> str:
    response = Client().get(reverse("payments:give"), {"currency": "USD"})
    assert response.status_code == 200
    return response.content.decode()


def test_a_repeat_within_the_local_seconds_does_not_ask_the_shared_cache(now, shared_reads):
    give_page()
    now[0] += 0.5
    give_page()

    assert len(shared_reads) == 1


def test_each_guest_still_gets_their_own_token_from_the_local_copy(now, shared_reads):
    first, second = give_page(), give_page()

    assert len(shared_reads) == 1
    assert TOKEN.findall(first) != TOKEN.findall(second)
    assert TOKEN.sub("", first) == TOKEN.sub("", second)


def test_the_local_copy_ends_after_the_local_seconds(now, shared_reads):
    give_page()
    now[0] += pages.READER_PAGE_LOCAL_SECONDS + 0.01
    give_page()

    assert len(shared_reads) == 2


def test_a_change_made_in_this_process_shows_at_once(now, suggestion):
    assert "Give $10" in give_page()

    SuggestedAmountFactory(currency="USD", amount=2500, is_default=True)
    suggestion.delete()

    assert "Give $25" in give_page()


def test_a_change_made_in_another_process_shows_within_the_local_seconds(now):
    assert "Give $10" in give_page()

    # Changed elsewhere: the rows (no signal here) and the shared version replaced there.
    SuggestedAmount.objects.filter(currency="USD").update(amount=2500)
    cache.set(pages.READER_PAGES_VERSION_KEY, "another-process", timeout=None)
    now[0] += 0.5
    assert "Give $10" in give_page()  # this process's copy, still current
    now[0] += pages.READER_PAGE_LOCAL_SECONDS

    assert "Give $25" in give_page()


def test_the_local_copies_are_bounded(monkeypatch, now):
    monkeypatch.setattr(pages._local_pages, "max_entries", 2)
    for article in ("one", "two", "three", "four", "five"):
        Client().get(reverse("payments:give"), {"from": article})

    assert 0 < len(pages._local_pages) <= 2


def test_the_suites_cache_clearing_drops_the_local_copies(now):
    give_page()
    assert pages._local_pages

    clear_cache()

    assert not pages._local_pages
