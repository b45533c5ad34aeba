"""Articles imported from the newsroom's CMS (feeds and JSON): idempotent, sanitised,
all or nothing, and open only to staff who edit articles or the CMS's token."""

import json
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from content.models import Article, ArticleDocument
from tests.content.helpers import article, article_with_extras
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "a-long-random-import-token-for-the-tests"

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>News</title><link>https://news.example.org/</link><description>All</description>
  <item>
    <title>Energy &amp; the grid</title>
    <link>https://news.example.org/2026/01/energy-grid-repairs/</link>
    <guid isPermaLink="false">post-101</guid>
    <pubDate>Tue, 06 Jan 2026 08:30:00 +0200</pubDate>
    <category>Economy</category>
    <dc:creator>Olena Kovalenko</dc:creator>
    <description><![CDATA[<p>Crews restore <b>substations</b> fast.</p>]]></description>
    <content:encoded><![CDATA[<p>The call came at 3:40.</p><h2>Spare parts</h2>]]></content:encoded>
  </item>
  <item>
    <title>Inside the ports</title>
    <link>https://news.example.org/2026/01/grain-ports.html</link>
    <pubDate>Mon, 05 Jan 2026 10:00:00 GMT</pubDate>
    <description>Ships still load grain.</description>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>News</title><id>urn:uuid:60a76c80</id><updated>2026-01-06T10:00:00Z</updated>
  <entry>
    <title type="html">A theatre that &lt;em&gt;never&lt;/em&gt; closed</title>
    <link rel="alternate" href="https://news.example.org/culture/frontline-theatre/"/>
    <id>tag:news.example.org,2026:301</id>
    <published>2026-01-05T19:00:00+02:00</published>
    <updated>2026-01-06T10:00:00Z</updated>
    <author><name>Yulia Marchenko</name></author>
    <category term="Culture"/>
    <summary>Forty kilometres from the front.</summary>
    <content type="html">&lt;p&gt;The main stage has been closed.&lt;/p&gt;</content>
  </entry>
</feed>
"""

HOSTILE = (
    '<p onclick="steal()">Read <a href="javascript:alert(1)">this</a>'
    '<img src="x" onerror="alert(2)"> and <a href="/2026/other/">that</a></p>'
    "<script>alert(3)</script><style>body{display:none}</style>"
    '<iframe src="https://evil.example"></iframe>'
)
HOSTILE_CLEANED = (
    '<p>Read <a rel="noopener nofollow">this</a><img src="https://news.example.org/2026/other/x"> '
    'and <a href="https://news.example.org/2026/other/" rel="noopener nofollow">that</a></p>'
)


def run_import(tmp_path, text: str, name: str = "feed.xml", *args: str) -> str:
    source = tmp_path / name
    source.write_text(text)
    out = StringIO()
    call_command("import_articles", str(source), *args, stdout=out)
    return out.getvalue()


def snapshot() -> list[tuple]:
    """Everything an import may write, to compare before and after."""
    articles = list(Article.objects.order_by("slug").values_list())
    documents = list(ArticleDocument.objects.order_by("pk").values_list())
    return [*articles, *documents]


def post_json(client: Client, payload, **headers):
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return client.post(
        reverse("content:import"), body, content_type="application/json", headers=headers
    )


def with_token(client: Client, payload):
    return post_json(client, payload, authorization=f"Bearer {TOKEN}")


@pytest.fixture(autouse=True)
def import_token(settings):
    settings.CONTENT_IMPORT_TOKEN = TOKEN


# --- Feeds ------------------------------------------------------------------------


def test_an_rss_feed_creates_its_articles_and_importing_it_again_changes_nothing(tmp_path):
    first = run_import(tmp_path, RSS)
    written = snapshot()
    second = run_import(tmp_path, RSS)

    assert "2 created, 0 updated, 0 unchanged." in first
    assert "0 created, 0 updated, 2 unchanged." in second
    assert snapshot() == written  # not even updated_at moved
    grid = Article.objects.get(slug="energy-grid-repairs")
    assert grid.title == "Energy & the grid"
    assert grid.url == "https://news.example.org/2026/01/energy-grid-repairs/"
    assert grid.section == "Economy"
    assert grid.author == "Olena Kovalenko"
    assert grid.published_at.isoformat() == "2026-01-06T06:30:00+00:00"
    assert grid.summary == "Crews restore <b>substations</b> fast."
    assert grid.body == "<p>The call came at 3:40.</p><h2>Spare parts</h2>"
    ports = Article.objects.get(slug="grain-ports")  # from the link, without ".html"
    assert ports.summary == "Ships still load grain."
    assert ports.body == ""


def test_an_atom_feed_creates_its_articles_and_importing_it_again_changes_nothing(tmp_path):
    first = run_import(tmp_path, ATOM)
    second = run_import(tmp_path, ATOM)

    assert "1 created, 0 updated, 0 unchanged." in first
    assert "0 created, 0 updated, 1 unchanged." in second
    theatre = Article.objects.get(slug="frontline-theatre")
    assert theatre.title == "A theatre that never closed"
    assert theatre.author == "Yulia Marchenko"
    assert theatre.section == "Culture"
    assert theatre.published_at.isoformat() == "2026-01-05T17:00:00+00:00"
    assert theatre.summary == "Forty kilometres from the front."
    assert theatre.body == "<p>The main stage has been closed.</p>"


def test_a_changed_item_updates_its_article_and_leaves_the_others_and_member_extras_alone(
    tmp_path,
):
    existing = article_with_extras(slug="energy-grid-repairs")
    run_import(tmp_path, RSS)

    output = run_import(tmp_path, RSS.replace("Inside the ports", "Inside the busy ports"))

    assert "0 created, 1 updated, 1 unchanged." in output
    assert Article.objects.get(slug="grain-ports").title == "Inside the busy ports"
    existing.refresh_from_db()
    assert existing.title == "Energy & the grid"  # the feed's
    assert existing.member_notes == "<p>A reader's photo started this story.</p>"  # kept
    assert existing.documents.count() == 1


def test_hostile_html_in_a_feed_is_sanitised_and_relative_links_point_to_the_publisher(
    tmp_path,
):
    feed = RSS.replace(
        "<![CDATA[<p>The call came at 3:40.</p><h2>Spare parts</h2>]]>", f"<![CDATA[{HOSTILE}]]>"
    ).replace(
        "<![CDATA[<p>Crews restore <b>substations</b> fast.</p>]]>",
        f"<![CDATA[In short: {HOSTILE}]]>",
    )
    feed = feed.replace(
        "https://news.example.org/2026/01/energy-grid-repairs/",
        "https://news.example.org/2026/other/energy-grid-repairs",
    )

    run_import(tmp_path, feed)
    again = run_import(tmp_path, feed)

    grid = Article.objects.get(slug="energy-grid-repairs")
    assert grid.body == HOSTILE_CLEANED
    assert grid.summary == (
        'In short: Read <a rel="noopener nofollow">this</a> and '
        '<a href="https://news.example.org/2026/other/" rel="noopener nofollow">that</a>'
    )
    assert "0 created, 0 updated, 2 unchanged." in again  # sanitising is stable


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            '<rss version="2.0"><channel><item><title>&b;</title>'
            "<link>https://news.example.org/x/</link></item></channel></rss>",
            "declares entities",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            '<rss version="2.0"><channel><item><title>&xxe;</title>'
            "<link>https://news.example.org/x/</link></item></channel></rss>",
            "declares entities",
        ),
        ("<rss><channel><item><title>Unclosed</channel></rss>", "not well-formed"),
        ("<html><body><p>A web page</p></body></html>", "Not an RSS or Atom feed"),
        ('<rss version="2.0"><channel><title>Empty</title></channel></rss>', "no articles"),
        (
            '<rss version="2.0"><channel><item><title>No link</title></item></channel></rss>',
            "items[0].link: No slug",
        ),
        (
            '<rss version="2.0"><channel><item><link>https://news.example.org/a/</link>'
            "</item></channel></rss>",
            "items[0].title: Every item needs a title.",
        ),
        (
            '<rss version="2.0"><channel><item><title>A</title><link>javascript:alert(1)</link>'
            "</item></channel></rss>",
            "items[0].link: Not an http(s) address.",
        ),
        (
            '<rss version="2.0"><channel>'
            "<item><title>A</title><link>https://news.example.org/1/same/</link></item>"
            "<item><title>B</title><link>https://news.example.org/2/same/</link></item>"
            "</channel></rss>",
            "items[1].slug: The slug 'same' is also items[0]'s.",
        ),
    ],
)
def test_a_bad_feed_is_refused_with_its_reason_and_nothing_is_written(tmp_path, text, reason):
    article(slug="energy-grid-repairs", title="Before")
    before = snapshot()

    with pytest.raises(CommandError) as refused:
        run_import(tmp_path, text)

    assert reason in str(refused.value)
    assert str(refused.value).startswith("Nothing imported.")
    assert snapshot() == before


def test_an_item_without_a_link_takes_its_slug_from_its_guid(tmp_path):
    feed = (
        '<rss version="2.0"><channel><item><title>Only a guid</title>'
        '<guid isPermaLink="false">Post 77</guid></item></channel></rss>'
    )

    run_import(tmp_path, feed)

    assert Article.objects.get().slug == "post-77"


def test_a_dry_run_says_what_would_change_and_writes_nothing(tmp_path):
    output = run_import(tmp_path, RSS, "feed.xml", "--dry-run")

    assert "Dry run, nothing written: would be 2 created, 0 updated, 0 unchanged." in output
    assert not Article.objects.exists()


# --- JSON ---------------------------------------------------------------------------

ARTICLE = {
    "slug": "investigation-procurement",
    "title": "The procurement deals nobody could explain",
    "url": "https://news.example.org/2026/01/investigation-procurement/",
    "section": "Investigations",
    "author": "Iryna Bondar",
    "published_at": "2026-01-06T08:30:00+02:00",
    "summary": "Three tenders, one winner.",
    "body": "<p>Between March and September...</p>",
    "member_notes": "<p>It started with a reader's email.</p>",
    "member_documents": [
        {"title": "Tender documents", "url": "https://news.example.org/docs/tenders.pdf"},
        {"title": "Our price comparison", "url": "https://news.example.org/docs/prices.csv"},
    ],
}


def test_the_json_format_imports_through_the_command_idempotently(tmp_path):
    payload = json.dumps({"articles": [ARTICLE]})

    first = run_import(tmp_path, payload, "articles.json")
    written = snapshot()
    second = run_import(tmp_path, payload, "articles.json")

    assert "1 created, 0 updated, 0 unchanged." in first
    assert "0 created, 0 updated, 1 unchanged." in second
    assert snapshot() == written
    story = Article.objects.get()
    assert story.member_notes == "<p>It started with a reader's email.</p>"
    assert [(d.title, d.url) for d in story.documents.all()] == [
        ("Tender documents", "https://news.example.org/docs/tenders.pdf"),
        ("Our price comparison", "https://news.example.org/docs/prices.csv"),
    ]


def test_staff_import_json_through_the_endpoint_and_a_second_post_changes_nothing(
    staff_client,
):
    first = post_json(staff_client, [ARTICLE])
    written = snapshot()
    second = post_json(staff_client, [ARTICLE])

    assert first.status_code == 200, first.content
    assert first.json() == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "articles": [{"slug": "investigation-procurement", "result": "created"}],
    }
    assert second.json()["unchanged"] == 1
    assert snapshot() == written


def test_fields_left_out_are_kept_null_empties_them_and_documents_are_replaced(client):
    with_token(client, [ARTICLE])

    response = with_token(
        client,
        [
            {
                "url": ARTICLE["url"],  # the slug comes from it
                "title": "A new title",
                "author": None,
                "member_documents": [{"title": "Only this", "url": "https://example.org/a"}],
            }
        ],
    )

    assert response.json()["updated"] == 1
    story = Article.objects.get()
    assert story.title == "A new title"
    assert story.author == ""
    assert story.section == "Investigations"
    assert story.body == "<p>Between March and September...</p>"
    assert [d.title for d in story.documents.all()] == ["Only this"]
    assert story.published_at is not None

    with_token(client, [{"slug": story.slug, "title": "A new title", "published_at": None}])

    story.refresh_from_db()
    assert story.published_at is None  # off the site
    assert client.get(reverse("content:article", args=[story.slug])).status_code == 404


def test_a_new_article_without_a_publication_time_is_published_at_once(client):
    with_token(client, [{"slug": "breaking", "title": "Breaking"}])

    assert client.get(reverse("content:article", args=["breaking"])).status_code == 200


def test_hostile_html_in_json_is_sanitised_everywhere(client):
    hostile = {
        **ARTICLE,
        "url": "https://news.example.org/2026/other/investigation-procurement",
        "summary": HOSTILE,
        "body": HOSTILE,
        "member_notes": HOSTILE,
        "title": "<script>alert(1)</script>Title",
    }

    assert with_token(client, [hostile]).status_code == 200

    story = Article.objects.get()
    assert story.body == HOSTILE_CLEANED
    assert story.member_notes == HOSTILE_CLEANED
    assert "script" not in story.summary and "onerror" not in story.summary
    page = client.get(reverse("content:article", args=[story.slug])).content.decode()
    assert "<script>alert(1)</script>Title" not in page  # titles are escaped
    assert "javascript:" not in page
    assert "onerror" not in page


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ("not json", None, "Not valid JSON"),
        ('{"articles": {}}', "articles", "Must be a list of articles."),
        ("[]", "articles", "Nothing to import"),
        ('"a string"', None, "Send a list of articles"),
        ([1], "articles[0]", "Each article must be an object."),
        ([{"slug": "a"}], "articles[0].title", "Every article needs a title."),
        ([{"title": "No slug"}], "articles[0].slug", "Give the article's slug"),
        ([{"slug": "with space", "title": "A"}], "articles[0].slug", "A slug is up to 200"),
        ([{"slug": "a" * 201, "title": "A"}], "articles[0].slug", "A slug is up to 200"),
        ([{"slug": "a", "title": "A" * 301}], "articles[0].title", "At most 300 characters."),
        ([{"slug": "a", "title": 5}], "articles[0].title", "Must be a string."),
        ([{"slug": "a", "title": "A\u0000"}], "articles[0].title", "Null characters"),
        ([{"slug": "a", "title": "A", "body": "\u0000"}], "articles[0].body", "Null characters"),
        (
            [{"slug": "a", "title": "A", "member_documents": [{"title": "\u0000", "url": "x"}]}],
            "articles[0].member_documents[0].title",
            "A title of 1 to 200 characters.",
        ),
        (
            [{"slug": "a", "title": "A", "url": "javascript:alert(1)"}],
            "articles[0].url",
            "Not an http(s) address.",
        ),
        (
            [{"slug": "a", "title": "A", "published_at": "yesterday"}],
            "articles[0].published_at",
            "ISO 8601",
        ),
        (
            [{"slug": "a", "title": "A", "published_at": "2026-02-30T10:00:00Z"}],
            "articles[0].published_at",
            "ISO 8601",
        ),
        ([{"slug": "a", "title": "A", "summery": "typo"}], "articles[0].summery", "Unknown field"),
        (
            [{"slug": "a", "title": "A", "member_documents": [{"title": "x"}]}],
            "articles[0].member_documents[0]",
            "Each document needs a title and a url",
        ),
        (
            [
                {
                    "slug": "a",
                    "title": "A",
                    "member_documents": [{"title": "x", "url": "data:text/html,hi"}],
                }
            ],
            "articles[0].member_documents[0].url",
            "Not an http(s) address.",
        ),
        (
            [{"slug": "ok", "title": "Fine"}, {"slug": "ok", "title": "Again"}],
            "articles[1].slug",
            "The slug 'ok' is also articles[0]'s.",
        ),
    ],
)
def test_bad_json_is_refused_with_400_naming_the_field_and_nothing_changes(
    client, payload, field, reason
):
    article(slug="ok", title="Before")
    before = snapshot()

    response = with_token(client, payload)

    assert response.status_code == 400, response.content
    body = response.json()
    if field is None:
        assert reason in body["error"], body
    else:
        assert list(body["errors"]) == [field], body
        assert reason in body["errors"][field][0], body
    assert snapshot() == before


def test_a_batch_with_one_bad_article_writes_none_of_the_good_ones(client):
    response = with_token(client, [ARTICLE, {"slug": "bad", "title": ""}])

    assert response.status_code == 400
    assert response.json()["errors"] == {"articles[1].title": ["Every article needs a title."]}
    assert not Article.objects.exists()


# --- Who may import ----------------------------------------------------------------


def test_the_import_token_is_accepted_without_a_session_or_csrf_token():
    response = with_token(Client(enforce_csrf_checks=True), [ARTICLE])

    assert response.status_code == 200
    assert Article.objects.count() == 1


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        "Bearer",
        "Bearer \u00e9",  # not ASCII: refused, not an error
    ],
)
def test_a_wrong_token_is_refused_with_401_and_nothing_changes(authorization):
    response = post_json(Client(), [ARTICLE], authorization=authorization)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Article.objects.exists()


def test_no_token_is_accepted_when_none_is_set(settings):
    settings.CONTENT_IMPORT_TOKEN = ""

    assert post_json(Client(), [ARTICLE], authorization="Bearer ").status_code == 401
    assert not Article.objects.exists()


def test_a_guest_is_refused_with_401(client):
    response = post_json(client, [ARTICLE])

    assert response.status_code == 401
    assert not Article.objects.exists()


def test_a_signed_in_reader_who_is_not_staff_is_refused_with_403(client):
    client.force_login(UserFactory())

    assert post_json(client, [ARTICLE]).status_code == 403
    assert not Article.objects.exists()


def test_staff_who_may_not_edit_articles_are_refused_with_403():
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_article"))
    client = Client()
    client.force_login(staff)

    assert post_json(client, [ARTICLE]).status_code == 403
    assert not Article.objects.exists()


def test_staff_with_the_article_permissions_may_import():
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_article", "change_article"])
    )
    client = Client()
    client.force_login(staff)

    assert post_json(client, [ARTICLE]).status_code == 200


def test_a_staff_session_must_send_the_csrf_token():
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(UserFactory(is_staff=True, is_superuser=True))
    browser.get(reverse("home"))  # the page sets the CSRF cookie

    refused = post_json(browser, [ARTICLE])
    accepted = post_json(browser, [ARTICLE], x_csrftoken=browser.cookies["csrftoken"].value)

    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]
    assert accepted.status_code == 200
    assert Article.objects.count() == 1


def test_the_endpoint_takes_only_post(staff_client):
    assert staff_client.get(reverse("content:import")).status_code == 405
