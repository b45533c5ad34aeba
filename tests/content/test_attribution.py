"""A gift started from an article's support block is attributed to that article, by slug,
even when no article has that slug any more (payments keeps it: see payments.attribution)."""

import re

import pytest
from django.urls import reverse

from payments.models import Donation
from tests.content.helpers import article, scheduled

pytestmark = pytest.mark.django_db


def test_a_gift_from_an_article_page_keeps_the_slug_even_once_the_article_is_gone(
    client, localstripe
):
    story = article(slug="energy-grid-repairs", title="How engineers keep the lights on")
    page = client.get(reverse("content:article", args=[story.slug])).content.decode()
    link = re.search(r'href="(/give/\?from=[^"]+)">Support us just once', page).group(1)

    give_page = client.get(link).content.decode()
    source = re.search(r'name="source" value="([^"]*)"', give_page).group(1)
    story.delete()  # the newsroom unpublished it, or renamed its slug, meanwhile
    response = client.post(
        reverse("payments:give_start"),
        {"amount": "25", "currency": "USD", "email": "guest@example.org", "source": source},
    )

    assert "after reading <em>How engineers keep the lights on</em>" in give_page
    assert response.status_code == 200, response.content
    assert Donation.objects.get().article_slug == "energy-grid-repairs"


def test_the_give_page_does_not_reveal_the_title_of_an_article_not_yet_published(client):
    scheduled(slug="embargoed", title="The embargoed investigation")

    page = client.get(reverse("payments:give") + "?from=embargoed").content.decode()

    assert "The embargoed investigation" not in page
    assert 'name="source" value="embargoed"' in page  # still attributed when given
