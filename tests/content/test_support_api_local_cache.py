"""The anonymous support block kept in each process's memory (content/api_cache.py
`read_local`/`keep_local`, SUPPORT_API_LOCAL_SECONDS): a repeat costs no round trip to
the shared cache; a change made in this process is seen at once, one made elsewhere
within SUPPORT_API_LOCAL_SECONDS."""

import pytest
from django.core.cache import cache

from content import api_cache
from content.models import ArticleDocument, Campaign
from content.services.campaigns import campaign_changed
from content.support import LIVE_CAMPAIGN_KEY
from tests.conftest import clear_cache
from tests.content.helpers import article, article_with_extras
from tests.factories import CampaignFactory, PaidMembershipFactory

SLUG = "night-shift"


@pytest.fixture
def shared_reads(monkeypatch):
    """The entries (answers, articles) asked of the shared cache."""
    calls = []
    real = api_cache.read

    def counted(name):
        calls.append(name)
        return real(name)

    monkeypatch.setattr("content.api_cache.read", counted)
    return calls


def block(client, slug: str = SLUG) -> dict:
    response = client.get(f"/api/support-block/{slug}")
    assert response.status_code == 200
    return response.json()


def changed_elsewhere() -> None:
    """What another process's invalidate_support_cache does to the shared cache (this
    process's copies are not dropped)."""
    cache.set(api_cache.VERSION_KEY, "another-process", timeout=None)


@pytest.mark.django_db
def test_a_repeat_within_the_local_seconds_does_not_ask_the_shared_cache(client, now, shared_reads):
    article(slug=SLUG)
    first = client.get(f"/api/support-block/{SLUG}")
    now[0] += 0.5
    again = client.get(f"/api/support-block/{SLUG}")

    assert shared_reads == [api_cache.anonymous_name(SLUG), api_cache.article_name(SLUG)]
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]


@pytest.mark.django_db
def test_the_local_copy_ends_after_the_local_seconds(client, settings, now, shared_reads):
    settings.SUPPORT_API_LOCAL_SECONDS = 1
    article(slug=SLUG)
    block(client)
    now[0] += 1.01
    block(client)

    assert shared_reads.count(api_cache.anonymous_name(SLUG)) == 2


@pytest.mark.django_db
def test_zero_local_seconds_keeps_no_local_copy(client, settings, shared_reads):
    settings.SUPPORT_API_LOCAL_SECONDS = 0
    article(slug=SLUG)
    block(client)
    block(client)

    assert shared_reads.count(api_cache.anonymous_name(SLUG)) == 2
    assert api_cache.read_local(api_cache.anonymous_name(SLUG)) is None


@pytest.mark.django_db
def test_a_change_made_in_this_process_is_seen_at_once(client, now):
    article(slug=SLUG)
    assert block(client)["campaign"] is None

    campaign = CampaignFactory()
    campaign_changed()  # what counting a gift or saving the campaign calls

    assert block(client)["campaign"]["slug"] == campaign.slug


@pytest.mark.django_db
def test_a_change_made_in_another_process_is_seen_within_the_local_seconds(client, settings, now):
    settings.SUPPORT_API_LOCAL_SECONDS = 1
    article(slug=SLUG)
    campaign = CampaignFactory()
    assert block(client)["campaign"]["progress"] == 0

    # Counted by a worker: its counters moved, its meter and the shared blocks dropped
    # there (this process's copies stay).
    Campaign.objects.filter(pk=campaign.pk).update(new_members=7)
    cache.delete(LIVE_CAMPAIGN_KEY)
    changed_elsewhere()
    now[0] += 0.5
    assert block(client)["campaign"]["progress"] == 0  # this process's copy, still current
    now[0] += 0.6

    assert block(client)["campaign"]["progress"] == 7


@pytest.mark.django_db
def test_the_local_copies_are_bounded(client, monkeypatch, now):
    monkeypatch.setattr(api_cache._local, "max_entries", 2)
    for slug in ("one", "two", "three", "four", "five"):
        block(client, slug)

    assert 0 < len(api_cache._local) <= 2
    assert api_cache.read_local(api_cache.anonymous_name("five")) is not None


def test_the_suites_cache_clearing_drops_the_local_copies(now):
    api_cache.keep_local(api_cache.anonymous_name(SLUG), (b"{}", '"etag"'))
    assert api_cache.read_local(api_cache.anonymous_name(SLUG)) is not None

    clear_cache()

    assert api_cache.read_local(api_cache.anonymous_name(SLUG)) is None


@pytest.mark.django_db
def test_a_members_repeat_takes_the_article_from_the_local_copy(client, now, shared_reads):
    article_with_extras(slug=SLUG)
    client.force_login(PaidMembershipFactory().user)
    block(client)
    now[0] += 0.5
    again = block(client)

    assert shared_reads == [api_cache.article_name(SLUG)]
    assert again["extras"]["documents"][0]["title"] == "The tender documents"


@pytest.mark.django_db
def test_a_member_sees_a_document_added_in_this_process_at_once(client, now):
    story = article_with_extras(slug=SLUG)
    client.force_login(PaidMembershipFactory().user)
    assert len(block(client)["extras"]["documents"]) == 1

    ArticleDocument.objects.create(article=story, title="Minutes", url="https://x.test/m.pdf")

    assert len(block(client)["extras"]["documents"]) == 2
