"""Reading articles from a newsroom's CMS: an RSS or Atom feed, or our JSON format.

Nothing is written here: `read_articles()` turns bytes into checked `ArticleData`,
or raises `Refused` naming the field at fault (`articles[3].published_at`), so
an import either writes everything or nothing (`content.services.articles`).

The JSON format (what `POST /articles/import` and `import_articles file.json` take)::

    {"articles": [                      (or the list on its own)
      {
        "slug": "energy-grid-repairs",   optional when "url" is given: then the last
                                         part of its path ("/2026/01/energy-grid-repairs/")
        "title": "How engineers keep the lights on",                  required
        "url": "https://news.example.org/2026/01/energy-grid-repairs/",
        "section": "Economy",
        "author": "Olena Kovalenko",
        "published_at": "2026-01-06T08:30:00+02:00",  ISO 8601; no offset: TIME_ZONE
        "summary": "<p>HTML</p>",
        "body": "<p>HTML</p>",
        "member_notes": "<p>HTML</p>",   "behind the story", members only
        "member_documents": [{"title": "The contract (PDF)", "url": "https://..."}]
      }
    ]}

A field left out keeps the article's current value (a new article: empty; a new
article with no `published_at` is published at once); `null` or "" empties it
(`"published_at": null` takes an article off the site). Unknown fields are refused,
so a misspelt one is not silently lost. HTML is sanitised when it is saved.

Feeds (RSS 0.9x/1.0/2.0, Atom): one article per item. The slug is the last part of
the item's link, or else of its guid/id; title, link, category (section), author
or dc:creator, pubDate/published (else updated), description/summary, and
content:encoded/content (the body) are read. Feeds carry no member extras: an
import from a feed leaves them as they are. A feed must be well-formed XML with
no entity declarations: it is checked with defusedxml before feedparser reads it.
"""

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as check_xml
from django.core.exceptions import ValidationError
from django.core.validators import slug_re
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import escape
from django.utils.text import slugify

from config.errors import Refused
from content import html
from content.models import WEB_ADDRESS

# One import writes in one transaction; a bigger batch is sent in parts.
MAX_ARTICLES = 1000
FIELDS = {
    "slug",
    "title",
    "url",
    "section",
    "author",
    "published_at",
    "summary",
    "body",
    "member_notes",
    "member_documents",
}
DOCUMENT_FIELDS = {"title", "url"}
# Extensions dropped from a link's last part to make its slug ("/a/story.html": "story").
PAGE_EXTENSIONS = (".html", ".htm", ".php", ".aspx", ".shtml")


@dataclass(frozen=True)
class ArticleData:
    """One article as the source gave it. None: the source did not say (left as it is)."""

    where: str  # "articles[3]": how errors name it
    slug: str
    title: str
    url: str | None = None
    section: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    unpublish: bool = False  # "published_at": null
    summary: str | None = None
    body: str | None = None
    member_notes: str | None = None
    documents: tuple[tuple[str, str], ...] | None = None  # (title, url) in order


def read_articles(data: bytes, *, content_type: str = "") -> list[ArticleData]:
    """JSON (starts with `{` or `[`, or declared so) or a feed; checked, or `Refused`."""
    if not data.strip():
        raise Refused("Nothing to import: the input is empty.")
    if "json" in content_type or data.lstrip()[:1] in (b"{", b"["):
        return read_json(data)
    return read_feed(data)


# --- JSON -------------------------------------------------------------------


def read_json(data: bytes) -> list[ArticleData]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(f"Not valid JSON: {exc}.") from None
    if isinstance(document, dict):
        unknown = sorted(set(document) - {"articles"})
        if unknown:
            raise Refused(f"Unknown field {unknown[0]!r}: send {{'articles': [...]}}.")
        items = document.get("articles")
        if not isinstance(items, list):
            raise Refused("Must be a list of articles.", field="articles")
    elif isinstance(document, list):
        items = document
    else:
        raise Refused("Send a list of articles, or {'articles': [...]}.")
    _check_count(len(items), "articles")
    articles = [_json_article(f"articles[{n}]", item) for n, item in enumerate(items)]
    _check_unique(articles)
    return articles


def _json_article(where: str, item: object) -> ArticleData:
    if not isinstance(item, dict):
        raise Refused("Each article must be an object.", field=where)
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise Refused(
            f"Unknown field; known ones: {', '.join(sorted(FIELDS))}.",
            field=f"{where}.{unknown[0]}",
        )

    def string(name: str, limit: int | None = None) -> str | None:
        if name not in item:
            return None
        value = item[name]
        if value is None:
            return ""
        if not isinstance(value, str):
            raise Refused("Must be a string.", field=f"{where}.{name}")
        value = value.strip()
        if "\x00" in value:
            raise Refused("Null characters are not allowed.", field=f"{where}.{name}")
        if limit is not None and len(value) > limit:
            raise Refused(f"At most {limit} characters.", field=f"{where}.{name}")
        return value

    url = string("url", 500)
    if url:
        _check_url(url, f"{where}.url")
    slug = string("slug")
    if not slug:
        slug = slug_from_url(url) if url else ""
        if not slug:
            raise Refused(
                "Give the article's slug, or its url to take the slug from.", field=f"{where}.slug"
            )
    _check_slug(slug, f"{where}.slug")
    title = string("title", 300)
    if not title:
        raise Refused("Every article needs a title.", field=f"{where}.title")

    published_at, unpublish = None, False
    if "published_at" in item:
        raw = item["published_at"]
        if raw is None or raw == "":
            unpublish = True
        elif not isinstance(raw, str) or (published_at := _iso_datetime(raw)) is None:
            raise Refused(
                "Not a date and time in ISO 8601, like 2026-01-06T08:30:00+02:00.",
                field=f"{where}.published_at",
            )

    return ArticleData(
        where=where,
        slug=slug,
        title=title,
        url=url,
        section=string("section", 100),
        author=string("author", 200),
        published_at=published_at,
        unpublish=unpublish,
        summary=string("summary"),
        body=string("body"),
        member_notes=string("member_notes"),
        documents=_json_documents(where, item),
    )


def _json_documents(where: str, item: dict) -> tuple[tuple[str, str], ...] | None:
    if "member_documents" not in item:
        return None
    field = f"{where}.member_documents"
    raw = item["member_documents"]
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise Refused("Must be a list of {'title': ..., 'url': ...}.", field=field)
    documents = []
    for n, document in enumerate(raw):
        at = f"{field}[{n}]"
        if not isinstance(document, dict) or set(document) != DOCUMENT_FIELDS:
            raise Refused("Each document needs a title and a url, and nothing else.", field=at)
        title, url = document["title"], document["url"]
        if not isinstance(title, str) or not 0 < len(title.strip()) <= 200 or "\x00" in title:
            raise Refused("A title of 1 to 200 characters.", field=f"{at}.title")
        if not isinstance(url, str) or len(url.strip()) > 500:
            raise Refused("An http(s) address of at most 500 characters.", field=f"{at}.url")
        _check_url(url.strip(), f"{at}.url")
        documents.append((title.strip(), url.strip()))
    return tuple(documents)


def _iso_datetime(raw: str) -> datetime | None:
    try:
        value = parse_datetime(raw.strip())
    except ValueError:
        return None
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


# --- Feeds --------------------------------------------------------------------


def read_feed(data: bytes) -> list[ArticleData]:
    try:
        check_xml(data)  # well-formed, no entity declarations, no external references
    except DefusedXmlException as exc:
        raise Refused(f"The feed declares entities or external references ({exc}).") from None
    except ParseError as exc:
        raise Refused(
            f"Not an RSS or Atom feed, nor JSON: the XML is not well-formed ({exc})."
        ) from None
    # A file object: given bytes or a string, feedparser would open a path or URL they name.
    feed = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=True)
    if not feed.version:
        raise Refused("Not an RSS or Atom feed, nor JSON.")
    _check_count(len(feed.entries), "items")
    articles = [_feed_article(f"items[{n}]", entry) for n, entry in enumerate(feed.entries)]
    _check_unique(articles)
    return articles


def _feed_article(where: str, entry) -> ArticleData:
    link = (entry.get("link") or "").strip()
    if link:
        _check_url(link, f"{where}.link")
        if len(link) > 500:
            raise Refused("At most 500 characters.", field=f"{where}.link")
    guid = (entry.get("id") or "").strip()
    slug = slug_from_url(link) if link else ""
    if not slug and guid:
        from_url = guid.startswith(("http://", "https://"))
        slug = slug_from_url(guid) if from_url else slugify(guid)[:200].strip("-_")
    if not slug:
        raise Refused(
            "No slug: the item has no link or guid to take it from.", field=f"{where}.link"
        )
    _check_slug(slug, f"{where}.link")
    title = html.text(entry.get("title", ""))
    if not title:
        raise Refused("Every item needs a title.", field=f"{where}.title")

    content = _html_of(next(iter(entry.get("content") or []), None))
    summary = _html_of(entry.get("summary_detail"))
    if summary is not None and content is not None and summary == content:
        summary = None  # feedparser copies the content into a missing summary
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    author = entry.get("author_detail", {}).get("name") or entry.get("author") or ""
    tags = entry.get("tags") or []
    section = (tags[0].get("label") or tags[0].get("term") or "") if tags else ""

    return ArticleData(
        where=where,
        slug=slug,
        title=title[:300],
        url=link or None,
        section=html.text(section)[:100] or None,
        author=(html.text(author)[:200] or None) if "@" not in author else None,
        published_at=datetime(*published[:6], tzinfo=UTC) if published else None,
        summary=summary,
        body=content,
    )


def _html_of(detail) -> str | None:
    """A feed's text construct as HTML (plain text is escaped, one paragraph)."""
    if not detail or detail.get("value") is None:
        return None
    value = detail["value"]
    if detail.get("type", "text/html") == "text/plain":
        return f"<p>{escape(value.strip())}</p>" if value.strip() else ""
    return value


# --- Checks both formats share -------------------------------------------------------


def slug_from_url(url: str) -> str:
    """The last non-empty part of the address's path, without a page extension, as a slug."""
    parts = [part for part in urlsplit(url).path.split("/") if part]
    if not parts:
        return ""
    last = unquote(parts[-1])
    for extension in PAGE_EXTENSIONS:
        if last.lower().endswith(extension):
            last = last[: -len(extension)]
    return slugify(last)[:200].strip("-_")


def _check_url(url: str, field: str) -> None:
    try:
        WEB_ADDRESS(url)
    except ValidationError:
        raise Refused("Not an http(s) address.", field=field) from None


def _check_slug(slug: str, field: str) -> None:
    if len(slug) > 200 or not slug_re.fullmatch(slug):
        raise Refused(
            "A slug is up to 200 letters, digits, - and _ (no spaces or accents).", field=field
        )


def _check_count(count: int, what: str) -> None:
    if count == 0:
        raise Refused("Nothing to import: no articles.", field=what)
    if count > MAX_ARTICLES:
        raise Refused(f"At most {MAX_ARTICLES} articles at once; send the rest after.", field=what)


def _check_unique(articles: list[ArticleData]) -> None:
    seen: dict[str, str] = {}
    for article in articles:
        if article.slug in seen:
            raise Refused(
                f"The slug {article.slug!r} is also {seen[article.slug]}'s.",
                field=f"{article.where}.slug",
            )
        seen[article.slug] = article.where
