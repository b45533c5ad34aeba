"""The article money came from, as the give and join pages name it.

payments keeps only the article's slug (see `models.Attribution`). The app that
knows articles (content, a higher layer) registers how to look one up when it is
ready, so a page can say "after reading <title>" without payments importing it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.core.validators import slug_re


@dataclass(frozen=True)
class SourceArticle:
    slug: str
    title: str
    url: str


ArticleLookup = Callable[[str], SourceArticle | None]
_lookup: ArticleLookup | None = None


def register_article_lookup(lookup: ArticleLookup) -> None:
    """Called once, by the app that owns articles, from its AppConfig.ready()."""
    global _lookup
    if _lookup is not None and _lookup is not lookup:
        raise ImproperlyConfigured("An article lookup is already registered.")
    _lookup = lookup


def source_article(slug: str) -> SourceArticle | None:
    """The article a reader came from, if `slug` names one (anything else: None)."""
    if _lookup is None or not slug or len(slug) > 200 or not slug_re.fullmatch(slug):
        return None
    return _lookup(slug)
