"""Fixtures for the whole suite, the test layers, and what keeps test processes apart.

Layers (markers, see pyproject.toml): a test that uses one of INTEGRATION_FIXTURES
(localstripe, the Celery worker, a live server, a committed database...) is marked
`integration` here, at collection, so nobody has to remember to; one that uses the
database only (rolled back after it) is marked `db`, and one that uses neither is
`unit`. A test that starts a server of its own is marked `integration` by hand.
`make test-fast` runs everything that is not `integration` (nor `slow`).

Isolation: every test process (the single one, or each pytest-xdist worker) has
its own SQLite file (config/settings.py: `var/test-<pid>.sqlite3`) or PostgreSQL
test database (`test_<name>_gw0`...), its own localstripe (the session fixture),
its own Celery queue on the broker and its own key prefix in a Redis cache, so
neither parallel workers nor two runs side by side ever meet.
"""

import os
import threading
import time

import pytest
import requests
from celery import signals
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from tests.support.processes import free_port, running_emulator
from tests.support.stripe_contract import ContractRecorder, report
from tests.support.stripe_proxy import StripeProxy

# --- Layers -------------------------------------------------------------------------

# Using any of these (directly or through another fixture) makes a test `integration`:
# the Stripe emulator, the Celery worker, a live server, or a database whose writes are
# committed (so another thread or process can see them).
INTEGRATION_FIXTURES = frozenset(
    {
        "localstripe",
        "stripe_proxy",
        "stripe_webhooks",
        "celery_worker",
        "tasks",
        "live_server",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
    }
)
DB_FIXTURES = frozenset({"db", "_django_db_helper"})
# django_db(transaction, reset_sequences, databases, serialized_rollback, ...)
_COMMITTING_DB_ARGUMENTS = {0: "transaction", 1: "reset_sequences", 3: "serialized_rollback"}


def _db_marker_commits(marker: pytest.Mark) -> bool:
    """Whether `@pytest.mark.django_db(...)` asks for a database that really commits."""
    return any(
        marker.kwargs.get(name) or (len(marker.args) > position and marker.args[position])
        for position, name in _COMMITTING_DB_ARGUMENTS.items()
    )


def layer_of(item: pytest.Item) -> str:
    """`integration`, `db` or `unit`: what this test needs, from its fixtures and marks."""
    if item.get_closest_marker("integration"):
        return "integration"
    fixtures = set(getattr(item, "fixturenames", ()))
    db_marker = item.get_closest_marker("django_db")
    if fixtures & INTEGRATION_FIXTURES or (db_marker and _db_marker_commits(db_marker)):
        return "integration"
    if fixtures & DB_FIXTURES or db_marker:
        return "db"
    return "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        layer = layer_of(item)
        if not item.get_closest_marker(layer):
            item.add_marker(layer)


# --- One test process, apart from every other ---------------------------------------


def process_name() -> str:
    """This test process's name, unique on this machine while it runs: the xdist worker
    (or `main`) and the pid. It names this process's Celery queue and cache keys."""
    return f"patronage-tests-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}"


def _redis_cache() -> bool:
    from django.core.cache.backends.redis import RedisCache
    from django.utils.module_loading import import_string

    # The backend's class, not the cache: that is made once KEY_PREFIX is set below.
    return issubclass(import_string(settings.CACHES["default"]["BACKEND"]), RedisCache)


def pytest_configure(config: pytest.Config) -> None:
    """Before any test runs (and before the Celery app or a cache is first used)."""
    # Passwords hashed in microseconds, not a third of a second (Django also hashes one
    # for every failed sign-in): the suite signs in hundreds of times. Production keeps
    # its hashers; nothing here tests their strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    name = process_name()
    from config.celery import app

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        # Tasks sent here go to, and this process's worker takes from, this queue only,
        # and this process's own namesake of each routed queue (emails).
        app.conf.task_default_queue = name
        app.conf.task_routes = {
            task: {**route, "queue": f"{name}-{route['queue']}"}
            for task, route in settings.CELERY_TASK_ROUTES.items()
        }
        # The worker's threads close their database connections after each task (not
        # every CELERY_DB_REUSE_MAX tasks), so the test database can be dropped at the end.
        app.conf.CELERY_DB_REUSE_MAX = None
    if _redis_cache():
        # Rate-limit counters of this process under its own prefix (see clear_cache).
        settings.CACHES["default"]["KEY_PREFIX"] = name
    # Every task registered up front, as a worker process does, whatever tests this
    # process happens to run first (under xdist, any test may be a worker's first).
    app.loader.import_default_modules()


def clear_cache() -> None:
    """Empty this process's cache only. A shared Redis cache is emptied key by key under
    this process's prefix: Django's `cache.clear()` there is FLUSHDB, which would empty it
    under every other worker and run too. The support blocks this process keeps in its
    own memory (content/api_cache.py) and the guest pages (payments/pages.py) go too."""
    from content.api_cache import forget_local
    from payments.pages import forget_local_pages

    forget_local()
    forget_local_pages()
    if not _redis_cache():
        cache.clear()
        return
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counters live in the cache: every test starts with none."""
    clear_cache()
    yield
    clear_cache()


@pytest.fixture(scope="session")
def stripe_contract():
    """Every request the stripe library sends in this session, checked against its own
    definition of the pinned API version (tests/support/stripe_contract.py).
    """
    recorder = ContractRecorder(expected_version=lambda: settings.STRIPE_API_VERSION)
    with recorder.installed():
        yield recorder
    leftover = recorder.take_violations()  # sent by a worker thread after the last test
    if leftover:
        pytest.fail(report(leftover), pytrace=False)


@pytest.fixture(autouse=True)
def _stripe_contract_check(request, stripe_contract):
    """Fail the test during which a request real Stripe would refuse was sent.

    localstripe accepts removed parameters and ignores idempotency keys, so this
    is where such a request is caught. A test that sends one on purpose takes it
    with `stripe_contract.take_violations()`.
    """
    stripe_contract.test = request.node.nodeid
    yield
    stripe_contract.test = None
    violations = stripe_contract.take_violations()
    if violations:
        pytest.fail(report(violations), pytrace=False)


@pytest.fixture(scope="session")
def localstripe():
    """A fresh localstripe on a free loopback port; the Stripe client points at it.

    One per test process: each pytest-xdist worker has its own.
    """
    port = free_port()
    with running_emulator(port):
        previous = settings.STRIPE_API_BASE
        settings.STRIPE_API_BASE = f"http://127.0.0.1:{port}"
        yield settings.STRIPE_API_BASE
        settings.STRIPE_API_BASE = previous


@pytest.fixture(scope="session")
def celery_worker():
    """A real Celery worker in this process when a broker is configured (CI: Redis).

    Without a broker, tasks run eagerly and there is nothing to start. Tests
    that use it need `transactional_db`, so the worker's own database
    connection sees what the test committed. It takes tasks from this process's
    own queue only (see pytest_configure), so parallel workers and other runs on
    the same broker never take each other's tasks.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        yield None
        return
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    queue = app.conf.task_default_queue
    assert app.amqp.default_queue.name == queue == process_name(), (
        f"Celery's default queue was fixed before pytest_configure named it: {queue}"
    )
    queues = process_queues()
    app.control.purge()  # tasks left over from an interrupted run
    running = _RunningTasks()
    signals.task_prerun.connect(running.started, weak=False)
    signals.task_postrun.connect(running.finished, weak=False)
    try:
        with start_worker(
            app,
            pool="threads",
            concurrency=4,
            perform_ping_check=False,
            loglevel="WARNING",
            queues=queues,  # not the queues of workers a test starts itself
        ) as worker:
            worker.running = running
            yield worker
    finally:
        for name in queues:
            _delete_queue(app, name)


def process_queues() -> list[str]:
    """This process's queues: its default one, then those tasks are routed to (emails)."""
    from config.celery import app

    routed = {route["queue"] for route in (app.conf.task_routes or {}).values()}
    return [app.conf.task_default_queue, *sorted(routed)]


def _delete_queue(app, name: str) -> None:
    """Remove this process's queue (and its binding) from the broker once it is done."""
    with app.connection_for_write() as connection:
        queue = app.amqp.queues[name](connection)
        queue.declare()  # so this channel knows the binding, and removes it with the queue
        queue.delete()


class _RunningTasks:
    """How many tasks the in-process worker is running now."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def started(self, **kwargs) -> None:
        with self._lock:
            self.count += 1

    def finished(self, **kwargs) -> None:
        with self._lock:
            self.count -= 1


def _wait_until_quiet(worker, timeout: float = 15) -> None:
    """Until the worker runs nothing and its queue (this process's own) is empty, twice
    in a row, so the test's database is not emptied under a task still writing to it."""
    from config.celery import app

    deadline = time.monotonic() + timeout
    quiet_checks = 0
    with app.connection_for_read() as connection:
        while quiet_checks < 2 and time.monotonic() < deadline:
            client = connection.default_channel.client
            queued = sum(client.llen(name) for name in process_queues())
            quiet_checks = quiet_checks + 1 if worker.running.count == 0 and not queued else 0
            time.sleep(0.1)


@pytest.fixture
def tasks(celery_worker, transactional_db):
    """Run what the code under test enqueues, by the real worker or eagerly."""
    yield celery_worker
    if celery_worker is not None:
        _wait_until_quiet(celery_worker)


@pytest.fixture
def stripe_proxy(localstripe, settings):
    """localstripe behind a proxy that honours idempotency keys and can fail on demand.

    The client waits 2 s per try here, so a held answer (`delay_next`) times out quickly.
    """
    proxy = StripeProxy(localstripe).start()
    settings.STRIPE_API_BASE = proxy.url
    settings.STRIPE_TIMEOUT = 2
    yield proxy
    proxy.stop()


@pytest.fixture
def stripe_webhooks(localstripe, live_server, settings, tasks):
    """localstripe sends its signed events to this test's live server."""
    config_url = f"{localstripe}/_config/webhooks/patronage"
    endpoint = live_server.url + reverse("payments:stripe_webhook")
    secret = settings.STRIPE_WEBHOOK_SECRET
    requests.post(config_url, json={"url": endpoint, "secret": secret}, timeout=5)
    yield endpoint
    # localstripe cannot forget an endpoint: point it at an event type that never happens.
    requests.post(
        config_url,
        json={"url": endpoint, "secret": secret, "events": ["patronage.never"]},
        timeout=5,
    )
    # Then let the deliveries already on their way arrive (the worker then drains them).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pending = requests.get(f"{localstripe}/_config/pending_webhooks", timeout=5).json()
        if not pending["pending"]:
            break
        time.sleep(0.1)


@pytest.fixture
def staff_client(db):
    """A second browser, signed in as newsroom staff (the `client` stays a guest)."""
    from django.test import Client

    from tests.factories import UserFactory

    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    return staff


@pytest.fixture
def now(monkeypatch):
    """The clock of the per-process cache copies (config/versioned_cache.py), moved by the
    test: a one-item list of seconds."""
    from config import versioned_cache

    clock = [1000.0]
    monkeypatch.setattr(versioned_cache, "monotonic", lambda: clock[0])
    return clock
