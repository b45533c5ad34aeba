"""The support block under an article: every variant on the page, from content/support.py."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from content.models import Campaign, GoalKind
from content.support import reader_state, support_block
from members.states import MembershipKind
from tests.content.helpers import (
    article_with_extras,
    comp_member,
    gift_member,
    lapsed_member,
    one_time_donor,
)
from tests.factories import (
    MembershipFactory,
    MembershipLevelFactory,
    PaidMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOTES = "A reader's photo started this story."
DOCUMENT = "The tender documents"


@pytest.fixture
def story():
    return article_with_extras(slug="night-shift", title="The night shift")


def paid_member():
    level = MembershipLevelFactory(name="Insider")
    return PaidMembershipFactory(level=level, starts_at=timezone.now() - timedelta(days=40)).user


def expired_gift_member():
    return MembershipFactory(
        kind=MembershipKind.GIFT, note="", ends_at=timezone.now() - timedelta(days=1)
    ).user


def never_gave():
    return UserFactory()


def page(story, user=None) -> str:
    browser = Client()
    if user is not None:
        browser.force_login(user)
    response = browser.get(reverse("content:article", args=[story.slug]))
    assert response.status_code == 200
    return response.content.decode()


def block_of(html: str) -> str:
    return html[html.index('class="card support-block') :]


def test_anonymous_reader_is_asked_to_join_or_give_once_naming_the_article(story):
    html = page(story)

    block = block_of(html)
    assert 'data-variant="ask"' in block
    assert 'href="/join/?from=night-shift"' in block
    assert "Become a member" in block
    assert 'href="/give/?from=night-shift"' in block
    assert "Support us just once" in block
    assert NOTES not in html and DOCUMENT not in html
    assert "campaign-meter" not in block


@pytest.mark.parametrize(
    ("make_reader", "variant"),
    [
        (never_gave, "ask"),
        (one_time_donor, "donor"),
        (paid_member, "member"),
        (comp_member, "member"),
        (gift_member, "member"),
        (lapsed_member, "lapsed"),
        (expired_gift_member, "lapsed"),
    ],
    ids=["no-gift", "one-time-donor", "paid", "comp", "gift", "lapsed", "gift-ended"],
)
def test_each_reader_sees_their_variant_and_only_members_see_the_extras(
    make_reader, variant, story
):
    html = page(story, make_reader())

    block = block_of(html)
    assert f'data-variant="{variant}"' in block
    if variant == "member":
        assert NOTES in html and DOCUMENT in html
        assert "Thank you for being a member" in block
        assert "/join/" not in block and "/give/" not in block
    else:
        assert NOTES not in html and DOCUMENT not in html
        assert "Members also get the reporters' notes" in html
    if variant == "donor":
        assert "Thank you for your gift" in block
        assert "monthly" in block
        assert 'href="/join/?from=night-shift"' in block
    if variant == "lapsed":
        assert "Welcome back" in block
        assert 'href="/join/?from=night-shift"' in block


def test_a_paid_member_is_thanked_with_their_level_and_member_since_date(story):
    user = paid_member()

    block = support_block(story, user)

    since = timezone.localdate() - timedelta(days=40)
    assert block.variant == "member"
    assert block.level == "Insider"
    assert block.member_since == since
    assert block.show_asks is True
    assert block.extras.notes_html == f"<p>{NOTES}</p>"
    assert block.extras.documents == [
        {"title": DOCUMENT, "url": "https://news.example.org/docs/t.pdf"}
    ]
    assert "Insider" in block.text
    assert block.as_json()["member_since"] == since.isoformat()
    assert {link.kind for link in block.links} == {"account", "gift"}


def test_a_level_promising_no_donation_reminders_shows_no_asks(story):
    level = MembershipLevelFactory(name="Supporter", no_donation_asks=True)
    user = PaidMembershipFactory(level=level).user

    block = support_block(story, user)
    html = block_of(page(story, user))

    assert block.variant == "member"
    assert block.show_asks is False
    assert [link.kind for link in block.links] == ["account"]
    assert "/gift/" not in html and "/give/" not in html and "/join/" not in html
    assert "campaign-meter" not in html


def test_member_extras_are_absent_when_the_article_has_none():
    plain = article_with_extras(slug="plain")
    plain.member_notes = ""
    plain.save()
    plain.documents.all().delete()

    assert support_block(plain, comp_member()).extras is None


def test_an_unknown_slug_still_gets_the_ask_naming_it():
    block = support_block(None, AnonymousUser(), slug="not-written-yet")

    assert block.variant == "ask"
    assert all("from=not-written-yet" in link.url for link in block.links)
    assert block.extras is None


@pytest.mark.parametrize(
    "make_reader",
    [never_gave, one_time_donor, paid_member, comp_member, gift_member, lapsed_member],
)
def test_reader_state_costs_at_most_two_queries(make_reader, django_assert_max_num_queries):
    user = make_reader()

    with django_assert_max_num_queries(2):
        reader_state(user)


def test_the_anonymous_block_from_a_cached_campaign_costs_no_query(
    story, django_assert_num_queries
):
    Campaign.objects.create(
        name="Winter appeal", slug="winter", goal_kind=GoalKind.MEMBERS, goal=500
    )
    support_block(story, None)  # the campaign's meter is cached now

    with django_assert_num_queries(0):
        block = support_block(story, AnonymousUser())

    assert block.campaign.slug == "winter"


def test_the_article_page_asks_the_reader_state_once(story, django_assert_max_num_queries):
    browser = Client()
    browser.force_login(paid_member())
    # session + user + article + documents + reader state (2)
    with django_assert_max_num_queries(6):
        browser.get(reverse("content:article", args=[story.slug]))


def test_as_json_is_plain_json(story):
    Campaign.objects.create(
        name="Spring",
        slug="spring",
        goal_kind=GoalKind.MONEY,
        goal=100_000,
        currency="EUR",
        ends_at=timezone.now() + timedelta(days=3),
    )
    import json

    data = support_block(story, one_time_donor()).as_json()

    assert json.loads(json.dumps(data)) == data
    assert data["variant"] == "donor"
    assert data["campaign"]["goal_kind"] == "money"
    assert data["campaign"]["currency"] == "EUR"
    assert isinstance(data["campaign"]["ends_at"], str)
    assert data["extras"] is None
    assert all("campaign=spring" in link["url"] for link in data["links"])
    assert date.fromisoformat(data["campaign"]["ends_at"][:10])
