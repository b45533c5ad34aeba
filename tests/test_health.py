import os
import shutil
import subprocess
import time

import pytest
import redis
from django.db import OperationalError, connection
from django.urls import reverse

from config import health
from config.celery import app as celery_app
from tests.support.processes import free_port, wait_for_port


@pytest.fixture
def unreachable_broker(monkeypatch):
    """Point Celery at a Redis port where nothing listens."""
    dead_url = f"redis://127.0.0.1:{free_port()}/0"
    # Celery prefers the environment variable over its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", dead_url)
    monkeypatch.setitem(celery_app.conf, "broker_url", dead_url)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)


@pytest.fixture(autouse=True)
def fresh_answers():
    """Each test's checks ask afresh (answers stand a second per process)."""
    health.forget_answers()
    yield
    health.forget_answers()


def refuse_every_query(execute, sql, params, many, context):
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed")


@pytest.mark.django_db
def test_healthz_answers_200_when_database_and_broker_answer(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_database_when_it_is_down(client):
    with connection.execute_wrapper(refuse_every_query):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "down", "down": ["database"]}
    assert "127.0.0.1" not in response.content.decode()
    assert "5432" not in response.content.decode()


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_broker_when_it_is_down(client, unreachable_broker):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "down", "down": ["broker"]}
    assert "127.0.0.1" not in response.content.decode()
    assert "redis" not in response.content.decode().lower()


@pytest.mark.django_db
def test_healthz_is_never_cached(client):
    response = client.get(reverse("healthz"))
    assert "no-cache" in response["Cache-Control"]


class OwnRedis:
    """A redis-server of this test's own on a free port, to count connections and to stop."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def stats(self) -> tuple[int, int]:
        """(connections received so far, PING commands answered so far), this query's
        own connection included once."""
        admin = redis.Redis(port=self.port, socket_timeout=5)
        try:
            connections = admin.info("stats")["total_connections_received"]
            pings = admin.info("commandstats").get("cmdstat_ping", {}).get("calls", 0)
        finally:
            admin.close()
        return connections, pings


@pytest.fixture
def own_broker(monkeypatch):
    """Celery's broker is a redis-server this test starts and can stop."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing", pytrace=False)
        pytest.skip("needs redis-server")
    server = OwnRedis()
    server.start()
    url = f"redis://127.0.0.1:{server.port}/0"
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    yield server
    server.stop()


@pytest.mark.integration  # starts a redis-server of its own
@pytest.mark.django_db
def test_healthz_pings_the_broker_over_one_kept_connection(client, own_broker, monkeypatch):
    monkeypatch.setattr(health, "BROKER_ANSWER_SECONDS", 0)  # every call checks for real
    connections_before, pings_before = own_broker.stats()
    for _ in range(20):
        assert client.get(reverse("healthz")).status_code == 200
    connections_after, pings_after = own_broker.stats()
    # One for the health check, one for stats() itself.
    assert connections_after - connections_before <= 2
    assert pings_after - pings_before >= 20


@pytest.mark.integration  # starts a redis-server of its own
@pytest.mark.django_db
def test_healthz_reuses_the_broker_answer_within_a_second(client, own_broker, monkeypatch):
    monkeypatch.setattr(health, "BROKER_ANSWER_SECONDS", 60)
    assert client.get(reverse("healthz")).status_code == 200  # opens and pings
    _, pings_before = own_broker.stats()
    for _ in range(20):
        assert client.get(reverse("healthz")).status_code == 200
    _, pings_after = own_broker.stats()
    assert pings_after == pings_before


@pytest.mark.integration  # starts a redis-server of its own
@pytest.mark.django_db
def test_healthz_notices_the_broker_going_down_and_coming_back_within_seconds(client, own_broker):
    assert client.get(reverse("healthz")).status_code == 200
    own_broker.stop()
    stopped = time.monotonic()
    while client.get(reverse("healthz")).status_code != 503:
        assert time.monotonic() - stopped < health.BROKER_ANSWER_SECONDS + 2
        time.sleep(0.05)
    assert client.get(reverse("healthz")).json() == {"status": "down", "down": ["broker"]}

    own_broker.start()
    started = time.monotonic()
    while client.get(reverse("healthz")).status_code != 200:
        assert time.monotonic() - started < health.BROKER_ANSWER_SECONDS + 2
        time.sleep(0.05)


@pytest.mark.django_db
def test_healthz_asks_the_database_at_most_once_a_second(client, django_assert_num_queries):
    client.get(reverse("healthz"))
    with django_assert_num_queries(0):
        for _ in range(20):
            assert client.get(reverse("healthz")).status_code == 200


@pytest.mark.django_db
def test_healthz_notices_the_database_going_down_within_a_second(client):
    assert client.get(reverse("healthz")).status_code == 200
    health._database["checked_at"] -= health.DATABASE_ANSWER_SECONDS  # a second later
    with connection.execute_wrapper(refuse_every_query):
        response = client.get(reverse("healthz"))
    assert response.json() == {"status": "down", "down": ["database"]}
