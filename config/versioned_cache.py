"""Entries of the shared cache that one call drops all at once, and this process's short
copies of them: what the guests' pages (payments/pages.py) and the support-block API
(content/api_cache.py) are served from.

Every entry is kept with the version of its family it was made for, and read together
with the current version in one round trip; `new_version` drops them all (no key
listing). A new random version rather than a counter, so a version lost from the cache
never comes back to an older one.
"""

import secrets
from collections.abc import Callable
from time import monotonic

from django.core.cache import cache


def read_versioned(version_key: str, key: str) -> tuple[str, tuple | None]:
    """(The current version of `version_key`'s family, the entry `key` if it was kept
    for that version, else None), in one round trip. Entries are (version, ...) tuples."""
    found = cache.get_many([version_key, key])
    version = found.get(version_key)
    if version is None:
        cache.add(version_key, secrets.token_hex(6), timeout=None)
        version = cache.get(version_key)
    entry = found.get(key)
    return version, (entry if entry is not None and entry[0] == version else None)


def new_version(version_key: str) -> None:
    """Drop every entry of the family: they are all of an older version now."""
    cache.set(version_key, secrets.token_hex(6), timeout=None)


class LocalCopies:
    """This process's copies of cache entries, each for `seconds()` (0: none kept), at
    most `max_entries` (when full they are all dropped and kept afresh). A change is seen
    at once by the process that made it (which calls `clear`), by the others within
    `seconds()`."""

    def __init__(self, seconds: Callable[[], float], max_entries: int) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._copies: dict[str, tuple[float, object]] = {}  # key -> (ends at, value)

    def get(self, key: str) -> object | None:
        found = self._copies.get(key)
        if found is None or found[0] <= monotonic():
            return None
        return found[1]

    def put(self, key: str, value: object) -> None:
        seconds = self.seconds()
        if seconds <= 0:
            return
        if len(self._copies) >= self.max_entries:
            self._copies.clear()
        self._copies[key] = (monotonic() + seconds, value)

    def clear(self) -> None:
        self._copies.clear()

    def __len__(self) -> int:
        return len(self._copies)
