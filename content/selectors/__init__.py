"""Reads in content: articles for the site's pages, and for payments' pages."""

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from content.models import Article
from members.selectors import has_member_perks
from payments.attribution import SourceArticle

# How many articles the home page lists.
LATEST_COUNT = 12


def published_articles() -> QuerySet[Article]:
    """Articles on the site now: published, and not scheduled for later."""
    return Article.objects.filter(published_at__lte=timezone.now())


def latest_articles(count: int = LATEST_COUNT) -> list[Article]:
    """The newest published articles, with what a list shows (no bodies or notes)."""
    return list(
        published_articles()
        .only("slug", "title", "section", "author", "published_at", "summary")
        .order_by("-published_at", "-id")[:count]
    )


def article_for_page(slug: str, *, preview: bool = False) -> Article | None:
    """The article at /articles/<slug>/ with its documents; unpublished ones only to
    staff previewing them (`preview`)."""
    articles = Article.objects.all() if preview else published_articles()
    return articles.prefetch_related("documents").filter(slug=slug).first()


def reader_has_perks(request: HttpRequest) -> bool:
    """Whether the reader is a member with perks; asked once per request (the header and
    the article page both need it), and never for a guest (no query)."""
    known = getattr(request, "_reader_has_perks", None)
    if known is None:
        known = request._reader_has_perks = has_member_perks(request.user)
    return known


def source_article(slug: str) -> SourceArticle | None:
    """The published article with this slug, as payments' pages name it (registered in
    apps.py). A scheduled one is not named, so a guessed link cannot reveal its title;
    the gift keeps the slug all the same."""
    article = published_articles().filter(slug=slug).only("slug", "title", "url").first()
    if article is None:
        return None
    return SourceArticle(slug=article.slug, title=article.title, url=article.url)
