"""Rate limits (config/ratelimit.py): counted per window, and cheap on Redis."""

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.connection import AbstractConnection

from config import ratelimit
from config.errors import TooManyAttempts

on_redis = pytest.mark.skipif(
    not isinstance(caches["default"], RedisCache), reason="needs the Redis cache (CACHE_URL)"
)


def test_a_limit_refuses_the_hit_over_its_rate_and_no_other_bucket():
    ratelimit.require(("test-ip", "192.0.2.1", "2/m"), ("test-email", "a@example.org", "5/m"))
    ratelimit.require(("test-ip", "192.0.2.1", "2/m"), ("test-email", "a@example.org", "5/m"))
    with pytest.raises(TooManyAttempts):
        ratelimit.require(("test-ip", "192.0.2.1", "2/m"), ("test-email", "a@example.org", "5/m"))
    ratelimit.require(("test-ip", "192.0.2.2", "2/m"))  # another address: its own count


def test_a_rate_of_zero_refuses_every_hit():
    with pytest.raises(TooManyAttempts):
        ratelimit.require(("test-off", "x", "0/m"))


@on_redis
def test_every_limit_of_a_request_is_counted_in_one_round_trip(monkeypatch):
    sent = []
    original = AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    ratelimit.require(("test-warm", "x", "5/m"))  # the connection is open before counting
    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    ratelimit.require(("test-ip", "192.0.2.1", "10/m"), ("test-email", "a@example.org", "5/h"))
    assert len(sent) == 1


@on_redis
def test_a_counter_ends_with_its_window():
    ratelimit.require(("test-ip", "192.0.2.9", "3/10s"))
    backend = caches["default"]
    client = backend._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{backend.key_prefix}:*test-ip:192.0.2.9*"))
    assert len(keys) == 1
    assert 0 < client.ttl(keys[0]) <= 10
    assert int(client.get(keys[0])) == 1
