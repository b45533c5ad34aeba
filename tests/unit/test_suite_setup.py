"""The suite's own machinery (tests/conftest.py): layers from fixtures, one process apart.

The layer a test lands in decides whether `make test-fast` runs it; the names
below keep parallel workers and runs side by side off each other's database,
queue and cache keys.
"""

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app
from tests import conftest


def item(*fixtures: str, marks: dict[str, pytest.Mark] | None = None):
    marks = marks or {}
    return SimpleNamespace(fixturenames=list(fixtures), get_closest_marker=marks.get)


def django_db(*args, **kwargs) -> dict[str, pytest.Mark]:
    return {"django_db": pytest.mark.django_db(*args, **kwargs).mark}


@pytest.mark.parametrize(
    "fixture",
    ["localstripe", "stripe_proxy", "stripe_webhooks", "tasks", "celery_worker", "live_server"],
)
def test_a_test_using_a_process_or_server_is_integration(fixture):
    assert conftest.layer_of(item("client", "db", fixture)) == "integration"


@pytest.mark.parametrize(
    "marks",
    [
        django_db(transaction=True),
        django_db(True),
        django_db(serialized_rollback=True),
        django_db(reset_sequences=True),
    ],
)
def test_a_database_that_commits_is_integration(marks):
    assert conftest.layer_of(item("client", marks=marks)) == "integration"
    assert conftest.layer_of(item("transactional_db")) == "integration"


def test_a_rolled_back_database_is_db_and_nothing_at_all_is_unit():
    assert conftest.layer_of(item("client", "db")) == "db"
    assert conftest.layer_of(item("client", marks=django_db())) == "db"
    assert conftest.layer_of(item("client", marks=django_db(transaction=False))) == "db"
    assert conftest.layer_of(item("settings", "client", "monkeypatch")) == "unit"


def test_a_test_marked_integration_by_hand_stays_integration():
    marks = {"integration": pytest.mark.integration.mark}
    assert conftest.layer_of(item(marks=marks)) == "integration"


def test_this_test_was_marked_unit(request):
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None


# --- One process apart ----------------------------------------------------------------------


def test_this_process_is_named_by_its_xdist_worker_and_pid():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert conftest.process_name() == f"patronage-tests-{worker}-{os.getpid()}"


@pytest.mark.django_db
def test_this_process_has_its_own_test_database():
    name = connection.settings_dict["NAME"]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if connection.vendor == "sqlite":
        assert f"test-{os.getpid()}.sqlite3" in str(name)
    else:
        assert str(name).startswith("test_")
    if worker:
        assert str(name).endswith(f"_{worker}")


def test_this_process_has_its_own_queue_and_cache_keys():
    if settings.CELERY_TASK_ALWAYS_EAGER:
        assert app.conf.task_always_eager
    else:
        assert app.conf.task_default_queue == conftest.process_name()
        assert app.amqp.default_queue.name == conftest.process_name()
    if conftest._redis_cache():
        assert settings.CACHES["default"]["KEY_PREFIX"] == conftest.process_name()


def test_emptying_the_cache_leaves_other_processes_keys_alone():
    if not conftest._redis_cache():
        pytest.skip("a process-local cache (CACHE_URL is not Redis)")
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    client.set("patronage-tests-someone-else:1:counter", 1)
    cache.set("counter", 1)
    try:
        conftest.clear_cache()
        assert cache.get("counter") is None
        assert client.get("patronage-tests-someone-else:1:counter") == b"1"
    finally:
        client.delete("patronage-tests-someone-else:1:counter")


def test_every_task_is_registered_before_any_test_runs():
    assert {"members.tasks.deliver_email", "payments.tasks.process_stripe_event"} <= set(app.tasks)


def test_the_vendored_axe_core_is_the_version_package_json_pins():
    """tests/browser/vendor/ is refreshed with `make vendor-axe`, never edited by hand."""
    browser = Path(__file__).parents[1] / "browser"
    pinned = json.loads((browser / "package.json").read_text())["devDependencies"]["axe-core"]
    vendored = (browser / "vendor" / "axe-core" / "axe.min.js").read_text()[:200]

    assert vendored.startswith(f"/*! axe v{pinned}\n")
    assert (browser / "vendor" / "axe-core" / "LICENSE").exists()  # MPL-2.0 asks for it
