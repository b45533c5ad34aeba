"""Articles kept in step with the newsroom's CMS: create or update by slug, all or nothing.

Idempotent: an article is saved only when something the source gave differs from
what is stored (HTML compared after sanitising), so importing the same feed twice
changes nothing and reports every article as unchanged.
"""

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import Refused
from content.importing import ArticleData
from content.models import Article, ArticleDocument

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
COPIED = ["title", "url", "section", "author", "summary", "body", "member_notes"]


@dataclass
class ImportResult:
    """What an import did, slug by slug."""

    outcomes: dict[str, str] = field(default_factory=dict)  # slug: created/updated/unchanged

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)

    def as_json(self) -> dict:
        return {
            CREATED: self.count(CREATED),
            UPDATED: self.count(UPDATED),
            UNCHANGED: self.count(UNCHANGED),
            "articles": [{"slug": slug, "result": value} for slug, value in self.outcomes.items()],
        }


def import_articles(articles: list[ArticleData]) -> ImportResult:
    """Create or update each article by its slug, in one transaction: all or nothing."""
    try:
        with transaction.atomic():
            return _import(articles)
    except IntegrityError:
        # Another import created one of these slugs between our read and our write.
        raise Refused(
            "Another import wrote these articles at the same time; send it again."
        ) from None


def _import(articles: list[ArticleData]) -> ImportResult:
    slugs = [data.slug for data in articles]
    stored = {
        article.slug: article
        for article in Article.objects.select_for_update()
        .filter(slug__in=slugs)
        .prefetch_related("documents")
    }
    result = ImportResult()
    for data in articles:
        article = stored.get(data.slug)
        if article is None:
            _create(data)
            result.outcomes[data.slug] = CREATED
        else:
            result.outcomes[data.slug] = UPDATED if _update(article, data) else UNCHANGED
    return result


def _create(data: ArticleData) -> None:
    article = Article(slug=data.slug, published_at=None if data.unpublish else timezone.now())
    _copy(article, data)
    article.save()
    if data.documents:
        _replace_documents(article, data.documents)


def _update(article: Article, data: ArticleData) -> bool:
    """Apply what the source gave; save only if it changes anything. Changed or not."""
    before = {name: getattr(article, name) for name in [*COPIED, "published_at"]}
    _copy(article, data)
    article.sanitise()  # compare what would be stored
    changed = any(getattr(article, name) != value for name, value in before.items())
    if changed:
        article.save()
    if data.documents is not None:
        current = tuple((doc.title, doc.url) for doc in article.documents.all())
        if current != data.documents:
            _replace_documents(article, data.documents)
            changed = True
    return changed


def _copy(article: Article, data: ArticleData) -> None:
    for name in COPIED:
        value = getattr(data, name)
        if value is not None:
            setattr(article, name, value)
    if data.unpublish:
        article.published_at = None
    elif data.published_at is not None:
        article.published_at = data.published_at


def _replace_documents(article: Article, documents: tuple[tuple[str, str], ...]) -> None:
    article.documents.all().delete()
    ArticleDocument.objects.bulk_create(
        ArticleDocument(article=article, title=title, url=url, position=position)
        for position, (title, url) in enumerate(documents)
    )
