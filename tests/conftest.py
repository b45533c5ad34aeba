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


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counters live in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


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
    """A fresh localstripe on a free loopback port; the Stripe client points at it."""
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
    connection sees what the test committed.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        yield None
        return
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    app.control.purge()  # tasks left over from an interrupted run
    running = _RunningTasks()
    signals.task_prerun.connect(running.started, weak=False)
    signals.task_postrun.connect(running.finished, weak=False)
    with start_worker(
        app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING"
    ) as worker:
        worker.running = running
        yield worker


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
    """Until the worker runs nothing and its queue is empty (twice in a row), so the
    test's database is not emptied under a task still writing to it."""
    from config.celery import app

    deadline = time.monotonic() + timeout
    quiet_checks = 0
    with app.connection_for_read() as connection:
        while quiet_checks < 2 and time.monotonic() < deadline:
            queued = connection.default_channel.client.llen(app.conf.task_default_queue)
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
