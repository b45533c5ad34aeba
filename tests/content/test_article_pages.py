"""The demo newsroom's pages: the full article for everyone, extras for members, the home list."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from members.states import MembershipStatus
from tests.content.helpers import article, article_with_extras, scheduled
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

EXTRAS = "A reader's photo started this story."


def page_of(client, slug: str):
    return client.get(reverse("content:article", args=[slug]))


def member_client(client, status: str = MembershipStatus.ACTIVE):
    membership = MembershipFactory(status=status)
    client.force_login(membership.user)
    return client


def test_everyone_reads_the_whole_article_with_the_support_block_at_its_end(client):
    story = article(slug="energy-grid-repairs", title="How engineers keep the lights on")

    response = page_of(client, story.slug)

    html = response.content.decode()
    assert response.status_code == 200
    assert "How engineers keep the lights on" in html
    assert "<p>The call came at 3:40 in the morning.</p><p>By 4:15 the crew was out.</p>" in html
    assert "By Olena Kovalenko" in html
    assert f'<link rel="canonical" href="{story.url}">' in html
    block = html[html.index('class="card support-block"') :]
    assert html.index("By 4:15 the crew was out.") < html.index('class="card support-block"')
    assert f'href="/join/?from={story.slug}"' in block
    assert f'href="/give/?from={story.slug}"' in block
    assert f'href="/gift/?from={story.slug}"' in block


def test_a_reader_who_is_not_a_member_sees_no_member_extras_but_is_told_they_exist(client):
    story = article_with_extras()
    client.force_login(UserFactory())

    for reader in (client, Client()):  # signed in without a membership, and a guest
        html = page_of(reader, story.slug).content.decode()

        assert "The call came at 3:40" in html
        assert EXTRAS not in html
        assert "The tender documents" not in html
        assert "https://news.example.org/docs/t.pdf" not in html
        assert "Members also get the reporters' notes and documents" in html


def test_a_member_sees_the_notes_and_documents_behind_the_story(client):
    story = article_with_extras()

    html = page_of(member_client(client), story.slug).content.decode()

    assert "Behind the story" in html
    assert EXTRAS in html
    assert '<a href="https://news.example.org/docs/t.pdf" rel="noopener nofollow">' in html
    assert "Members also get" not in html


@pytest.mark.parametrize(
    ("status", "sees_extras"),
    [
        (MembershipStatus.PAST_DUE, True),  # Stripe is still retrying: perks stay on
        (MembershipStatus.CANCELED, False),
        (MembershipStatus.INCOMPLETE, False),
    ],
)
def test_extras_follow_the_membership_perks(client, status, sees_extras):
    story = article_with_extras()

    html = page_of(member_client(client, status), story.slug).content.decode()

    assert (EXTRAS in html) is sees_extras


def test_an_article_without_extras_shows_no_extras_hint(client):
    story = article()

    html = page_of(client, story.slug).content.decode()

    assert "Behind the story" not in html
    assert "Members also get" not in html


def test_an_unknown_or_unpublished_article_is_not_found_but_staff_can_preview_it(
    client, staff_client
):
    draft = article(published_at=None)
    tomorrow = scheduled()

    assert page_of(client, "no-such-article").status_code == 404
    assert page_of(client, draft.slug).status_code == 404
    assert page_of(client, tomorrow.slug).status_code == 404
    preview = page_of(staff_client, tomorrow.slug)
    assert preview.status_code == 200
    assert "only staff see this preview" in preview.content.decode()


def test_the_article_page_keeps_the_content_security_policy(client, settings):
    story = article()

    strict = page_of(client, story.slug)
    settings.CONTENT_IMAGE_ORIGINS = ["https://cdn.news.example.org"]
    with_images = page_of(client, story.slug)

    strict_policy = directives(strict["Content-Security-Policy"])
    assert strict_policy["img-src"] == ["'self'", "data:"]
    assert strict_policy["script-src"][0] == "'self'"
    policy = directives(with_images["Content-Security-Policy"])
    assert policy["img-src"] == ["'self'", "data:", "https://cdn.news.example.org"]
    assert policy["script-src"][0] == "'self'"


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header's directives (in whatever order it lists them)."""
    parts = [d.split() for d in policy.split(";") if d.strip()]
    return {name: sources for name, *sources in parts}


def test_html_saved_from_admin_is_sanitised_before_anyone_reads_it(client, staff_client):
    story = article()
    form = {
        "title": story.title,
        "slug": story.slug,
        "url": story.url,
        "section": "",
        "author": "",
        "published_at_0": timezone.now().strftime("%Y-%m-%d"),
        "published_at_1": "00:00:00",
        "summary": "Hello <img src=x onerror=alert(1)>",
        "body": '<p>Fine</p><script>alert("x")</script><a href="javascript:alert(1)">link</a>',
        "member_notes": "",
        "documents-TOTAL_FORMS": "0",
        "documents-INITIAL_FORMS": "0",
    }

    response = staff_client.post(reverse("admin:content_article_change", args=[story.pk]), form)

    assert response.status_code == 302, response.content
    story.refresh_from_db()
    assert story.body == '<p>Fine</p><a rel="noopener nofollow">link</a>'
    assert story.summary == "Hello"
    html = page_of(client, story.slug).content.decode()
    assert "alert" not in html
    assert "onerror" not in html


def test_the_home_page_lists_the_latest_published_articles_with_their_summaries(client):
    now = timezone.now()
    older = article(title="Older story", published_at=now - timedelta(days=2))
    newer = article(title="Newer story", published_at=now - timedelta(hours=1))
    scheduled(title="Tomorrow's story")
    article(title="A draft", published_at=None)

    html = client.get(reverse("home")).content.decode()

    assert html.index("Newer story") < html.index("Older story")
    assert f'href="{reverse("content:article", args=[newer.slug])}"' in html
    assert f'href="{reverse("content:article", args=[older.slug])}"' in html
    assert "<em>Repair crews</em> restore substations within hours." in html
    assert "Tomorrow&#x27;s story" not in html
    assert "A draft" not in html


def test_the_home_page_lists_at_most_a_dozen(client, django_assert_max_num_queries):
    for n in range(15):
        article(title=f"Story number {n:02}", published_at=timezone.now() - timedelta(hours=n))

    with django_assert_max_num_queries(3):
        html = client.get(reverse("home")).content.decode()

    assert "Story number 00" in html
    assert "Story number 11" in html
    assert "Story number 12" not in html


def test_every_page_links_to_becoming_a_member_supporting_and_giving_a_membership(client):
    html = client.get(reverse("home")).content.decode()

    header = html[html.index('<header class="masthead">') : html.index("</header>")]
    assert f'<a href="{reverse("members:join")}">Become a member</a>' in header
    assert f'<a href="{reverse("payments:give")}">Support us</a>' in header
    assert f'<a href="{reverse("gifts:give")}">Give a membership</a>' in header


def test_members_are_not_asked_to_become_members_in_the_header(
    client, rf, django_assert_num_queries
):
    story = article_with_extras()
    reader = Client()
    reader.force_login(UserFactory())

    member_page = page_of(member_client(client), story.slug).content.decode()
    reader_page = reader.get(reverse("home")).content.decode()

    member_header = member_page[: member_page.index("</header>")]
    assert "Become a member" not in member_header
    assert "Give a membership" in member_header
    assert "Become a member" in reader_page[: reader_page.index("</header>")]
    guest = rf.get("/")
    guest.user = AnonymousUser()
    with django_assert_num_queries(0):  # a guest's header asks nothing of the database
        html = Template("{% load articles %}{% reader_is_member as m %}{{ m }}").render(
            Context({"request": guest})
        )
    assert html == "False"
