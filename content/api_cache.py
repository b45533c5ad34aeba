"""The server-side cache of the support-block API: anonymous answers and articles, by slug;
and what drops the guests' cached donation, join and gift pages (payments/pages.py,
`forget_reader_pages`) when what they show changes: suggested amounts, membership levels
and their prices, articles. Connected here, the module every process imports at start
(content/apps.py), so a change made anywhere (admin, a task, a command) drops them.

Every entry is kept with the version of the cache it was made for, and read together
with the current version in one round trip: `invalidate_support_cache()` replaces the
version, so one call drops every cached block at once (no key listing). It is called
when an article or its documents change (receivers below) and by whatever changes what a
block shows, such as a campaign's counters. Entries also expire after
SUPPORT_API_CACHE_SECONDS, so a change nobody announced shows within that time. Reading
needs the cache only, never the database.

In front of the shared cache, each process keeps the anonymous answers and articles it
read for SUPPORT_API_LOCAL_SECONDS (`read_local`, `keep_local`): a repeat then costs no
round trip to Redis either. `invalidate_support_cache()` empties this process's copies at once;
other processes' copies end within SUPPORT_API_LOCAL_SECONDS (0: no local copies).
"""

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from config.versioned_cache import LocalCopies, new_version, read_versioned
from content.models import Article, ArticleDocument
from members.models import LevelAmount, MembershipLevel
from payments.models import SuggestedAmount
from payments.pages import forget_reader_pages

VERSION_KEY = "support-block:version"
# At most this many answers kept per process (one per article asked about lately); when
# full, the copies are dropped and kept afresh.
LOCAL_ENTRIES = 1000

# This process's copies of entries
_local = LocalCopies(lambda: settings.SUPPORT_API_LOCAL_SECONDS, LOCAL_ENTRIES)


def anonymous_name(slug: str) -> str:
    """The entry of the anonymous answer for `slug` (its body and ETag)."""
    return f"anonymous:{slug}"


def article_name(slug: str) -> str:
    """The entry of the published article with `slug` (and its documents), or its absence."""
    return f"article:{slug}"


def read(name: str) -> tuple[str, object | None]:
    """(The cache's current version, the entry `name` kept for that version or None),
    in one round trip to the cache."""
    version, entry = read_versioned(VERSION_KEY, f"support-block:{name}")
    return version, (entry[1] if entry is not None else None)


def keep(name: str, version: str, value: object) -> None:
    """Keep `value` as the entry `name` of cache `version` (from `read`)."""
    cache.set(f"support-block:{name}", (version, value), cache_seconds())


def read_local(name: str) -> object | None:
    """This process's copy of the entry `name`, while it lasts (else None)."""
    return _local.get(name)


def keep_local(name: str, value: object) -> None:
    """Keep a copy of `value` in this process for SUPPORT_API_LOCAL_SECONDS."""
    _local.put(name, value)


def cached(name: str, compute: Callable[[], object]) -> object:
    """The entry `name`: this process's copy, else the shared cache's (for its current
    version), else `compute()`d and kept in both."""
    value = read_local(name)
    if value is None:
        version, value = read(name)
        if value is None:
            value = compute()
            keep(name, version, value)
        keep_local(name, value)
    return value


def forget_local() -> None:
    """Drop this process's copies (invalidate_support_cache does it; tests between tests)."""
    _local.clear()


def invalidate_support_cache() -> None:
    """Drop every cached support block and article: the next answers are computed afresh.
    This process's copies go at once; other processes' within SUPPORT_API_LOCAL_SECONDS."""
    forget_local()
    new_version(VERSION_KEY)


def cache_seconds() -> int:
    return settings.SUPPORT_API_CACHE_SECONDS


@receiver(post_save, sender=Article, dispatch_uid="support-cache-article-saved")
@receiver(post_delete, sender=Article, dispatch_uid="support-cache-article-deleted")
@receiver(post_save, sender=ArticleDocument, dispatch_uid="support-cache-document-saved")
@receiver(post_delete, sender=ArticleDocument, dispatch_uid="support-cache-document-deleted")
def _article_changed(**kwargs) -> None:
    invalidate_support_cache()


@receiver(post_save, sender=Article, dispatch_uid="reader-pages-article-saved")
@receiver(post_delete, sender=Article, dispatch_uid="reader-pages-article-deleted")
@receiver(post_save, sender=SuggestedAmount, dispatch_uid="reader-pages-suggestion-saved")
@receiver(post_delete, sender=SuggestedAmount, dispatch_uid="reader-pages-suggestion-deleted")
@receiver(post_save, sender=MembershipLevel, dispatch_uid="reader-pages-level-saved")
@receiver(post_delete, sender=MembershipLevel, dispatch_uid="reader-pages-level-deleted")
@receiver(post_save, sender=LevelAmount, dispatch_uid="reader-pages-price-saved")
@receiver(post_delete, sender=LevelAmount, dispatch_uid="reader-pages-price-deleted")
def _page_data_changed(**kwargs) -> None:
    forget_reader_pages()
