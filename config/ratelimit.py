"""Fixed-window counters in the cache, for limits the form checks before Stripe is called."""

import ipaddress
import re
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured

from config.errors import TooManyAttempts

PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """`10/10m` -> (10, 600): at most 10 in any 10-minute window."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*", rate)
    if not match:
        raise ImproperlyConfigured(f"rate {rate!r} is not COUNT/PERIOD, e.g. 10/10m or 5/h")
    count, multiplier, unit = match.groups()
    window = int(multiplier or 1) * PERIOD_SECONDS[unit]
    if window <= 0:
        raise ImproperlyConfigured(f"rate {rate!r} has an empty period")
    return int(count), window


def _window_key(scope: str, key: str, window: int, now: float) -> str:
    return f"ratelimit:{scope}:{key}:{int(now // window)}"


def allow(scope: str, key: str, rate: str) -> bool:
    """Count one hit for `key`; False once the rate is exceeded in the current window."""
    limit, window = parse_rate(rate)
    cache_key = _window_key(scope, key, window, time.time())
    if cache.add(cache_key, 1, timeout=window):
        return limit >= 1
    try:
        return cache.incr(cache_key) <= limit
    except ValueError:  # expired between add() and incr()
        cache.set(cache_key, 1, timeout=window)
        return limit >= 1


def require(*limits: tuple[str, str, str]) -> None:
    """Count one hit in each (scope, key, rate); raise TooManyAttempts (429) if any is over.

    On Redis every counter is counted in one round trip (a MULTI pipeline: for each, a
    SET NX with the window's expiry, then INCR); elsewhere one by one with `allow`."""
    backend = caches["default"]
    if not limits:
        return
    if not isinstance(backend, RedisCache):
        for scope, key, rate in limits:
            if not allow(scope, key, rate):
                raise TooManyAttempts()
        return
    now = time.time()
    counted = []
    for scope, key, rate in limits:
        limit, window = parse_rate(rate)
        counted.append(
            (backend.make_and_validate_key(_window_key(scope, key, window, now)), window, limit)
        )
    pipe = backend._cache.get_client(counted[0][0], write=True).pipeline(transaction=True)
    for cache_key, window, _ in counted:
        pipe.set(cache_key, 0, ex=window, nx=True)
        pipe.incr(cache_key)
    counts = pipe.execute()[1::2]
    if any(count > limit for count, (_, _, limit) in zip(counts, counted, strict=True)):
        raise TooManyAttempts()


def email_key(email: str) -> str:
    """The one bucket an address counts in, for every limit: lower-case, with the local
    part's `+tag` dropped, since reader+1@ and reader+2@ reach the same inbox (and a
    bot would otherwise get a fresh limit per tag)."""
    address = email.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local.split('+', 1)[0] or local}@{domain}"


def client_ip(request) -> str:
    """The reader's address, behind NUM_PROXIES trusted proxies."""
    if settings.NUM_PROXIES:
        forwarded = [ip.strip() for ip in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= settings.NUM_PROXIES:
            return forwarded[-settings.NUM_PROXIES]
    return request.META.get("REMOTE_ADDR", "")


IPV6_PREFIX = 64


def address_key(ip: str) -> str:
    """The one bucket an address counts in: an IPv4 address itself; an IPv6 address's
    network of IPV6_PREFIX bits (a home or a server is given a whole /64 and may use any
    address in it, so a bot would otherwise get a fresh limit per address). allauth
    counts sign-ins the same way (its RATE_LIMIT_IPV6_PREFIX, 64)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:  # ::ffff:198.51.100.7 is 198.51.100.7
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/{IPV6_PREFIX}", strict=False))
    return ip


def client_key(request) -> str:
    """The reader's address as the limits count it (`address_key`)."""
    return address_key(client_ip(request))
