import pytest
from django.db import OperationalError, connection
from django.urls import reverse

from config.celery import app as celery_app
from tests.support.processes import free_port


@pytest.fixture
def unreachable_broker(monkeypatch):
    """Point Celery at a Redis port where nothing listens."""
    dead_url = f"redis://127.0.0.1:{free_port()}/0"
    # Celery prefers the environment variable over its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", dead_url)
    monkeypatch.setitem(celery_app.conf, "broker_url", dead_url)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)


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
