"""The server-side cache of the support-block API: anonymous answers and articles, by slug.

Every key carries a version that `invalidate_support_cache()` replaces, so one call drops
every cached block at once (no key listing). It is called when an article or its
documents change (receivers below) and by whatever changes what a block shows, such as
a campaign's counters. Entries also expire after SUPPORT_API_CACHE_SECONDS, so a change
nobody announced shows within that time. Reading needs the cache only, never the
database.
"""

import secrets

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from content.models import Article, ArticleDocument

VERSION_KEY = "support-block:version"


def _version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, secrets.token_hex(6), timeout=None)
        version = cache.get(VERSION_KEY)
    return str(version)


def anonymous_cache_key(slug: str) -> str:
    """Where the anonymous answer for `slug` is cached (its body and ETag)."""
    return f"support-block:{_version()}:anonymous:{slug}"


def article_cache_key(slug: str) -> str:
    """Where the published article with `slug` (and its documents) is cached, or its absence."""
    return f"support-block:{_version()}:article:{slug}"


def invalidate_support_cache() -> None:
    """Drop every cached support block and article: the next answers are computed afresh.

    A new random version rather than a counter, so a version lost from the cache never
    comes back to an older one."""
    cache.set(VERSION_KEY, secrets.token_hex(6), timeout=None)


def cache_seconds() -> int:
    return settings.SUPPORT_API_CACHE_SECONDS


@receiver(post_save, sender=Article, dispatch_uid="support-cache-article-saved")
@receiver(post_delete, sender=Article, dispatch_uid="support-cache-article-deleted")
@receiver(post_save, sender=ArticleDocument, dispatch_uid="support-cache-document-saved")
@receiver(post_delete, sender=ArticleDocument, dispatch_uid="support-cache-document-deleted")
def _article_changed(**kwargs) -> None:
    invalidate_support_cache()
