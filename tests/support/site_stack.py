"""The whole site in processes of its own, each dependency behind something a test can
break (the fault tests, tests/faults).

SiteStack: gunicorn serving config.wsgi with production settings (DEBUG=0) and a
Celery worker (prefork, as in production; one worker takes both the events' and the
emails' queue), both on the test database through a TCP proxy a test can take down
(PostgreSQL down for them only), with a redis-server of the stack's own as their
broker and cache (killed and started again on the same port: Redis down), on
localstripe, and sending email by SMTP through a TCP proxy to a mail server that keeps
what arrives (bench/simulation/mailbox.py; the proxy down: SMTP down).

The shared PostgreSQL and Redis serve every other test and are never stopped.
"""

import ast
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from celery import Celery
from django.conf import settings
from django.db import connection

from bench.simulation.mailbox import Mailbox
from payments import stripe_gateway as gateway
from payments.models import Donation
from tests.payments.donations import give
from tests.support import stripe_payloads as payloads
from tests.support.processes import free_port, stop_group, wait_for_port, wait_until
from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy
from tests.support.webhooks import signed, webhook_path

# Beat's periodic tasks the tests run at once (config/settings.py CELERY_BEAT_SCHEDULE):
# stored Stripe events still pending enqueued (inbox.enqueue_pending_events), and
# receipts and notices still unsent sent.
SWEEP = "payments.tasks.enqueue_pending_stripe_events"
SEND_UNSENT = "payments.tasks.send_unsent_emails"

# Long enough for a process to start, or a task to be picked up and finished, on a busy
# 2-core machine; never waited for in full when things go right.
PATIENCE = 60


def missing(what: str) -> None:
    """Skip, or fail in CI, where every piece must be there."""
    if os.environ.get("CI"):
        pytest.fail(f"The fault tests need {what}", pytrace=False)
    pytest.skip(f"The fault tests need {what}")


def require_real_stack() -> None:
    if connection.vendor != "postgresql":
        missing("PostgreSQL (DATABASE_URL)")
    if settings.CELERY_TASK_ALWAYS_EAGER:
        missing("a broker (CELERY_BROKER_URL)")
    if not RedisServer.available():
        missing("redis-server")


def database_url(host: str, port: int, application_name: str) -> str:
    """The test database (`test_…`) as a URL, reached at host:port, its sessions named."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    name = quote(db["NAME"], safe="")
    return f"postgres://{credentials}@{host}:{port}/{name}?application_name={application_name}"


class SiteStack:
    """gunicorn and a Celery worker with every dependency breakable (see the module)."""

    def __init__(self, stripe_api_base: str, workdir: Path) -> None:
        self.workdir = workdir
        self.stripe_api_base = stripe_api_base
        db = connection.settings_dict
        self.database = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
        self.redis = RedisServer()
        self.mail = Mailbox()
        self.smtp: TcpProxy | None = None
        self.port = free_port()
        self.site = f"http://127.0.0.1:{self.port}"
        self.session_name = f"patronage-site-stack-{os.getpid()}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.env: dict[str, str] = {}
        self._log_marks: dict[str, int] = {}  # where this test's part of each log begins
        self._commands: dict[str, list[str]] = {}

    # --- Start and stop -----------------------------------------------------------------

    def start(self) -> "SiteStack":
        self.database.start()
        self.redis.start()
        self.mail.start()
        mail_port = int(self.mail.url.rsplit(":", 1)[1])
        self.smtp = TcpProxy("127.0.0.1", mail_port).start()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SITE_URL": self.site,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": self.site,
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_SECONDS": "0",
            "SECURE_PROXY_SSL_HEADER": "0",
            "DATABASE_URL": database_url("127.0.0.1", self.database.port, self.session_name),
            "CACHE_URL": self.redis.url(1),
            "CELERY_BROKER_URL": self.redis.url(0),
            "EMAIL_URL": f"smtp://127.0.0.1:{self.smtp.port}",
            "STRIPE_SECRET_KEY": settings.STRIPE_SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": settings.STRIPE_PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": settings.STRIPE_WEBHOOK_SECRET,
            "STRIPE_API_BASE": self.stripe_api_base,
            "LOG_LEVEL": "WARNING",
        }
        self._spawn(
            "web",
            [
                *("-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.port}"),
                *("--workers", "1", "--threads", "4", "--worker-class", "gthread"),
                *("--timeout", "90", "--log-level", "warning"),
            ],
        )
        self._spawn(
            "worker",
            [
                *("-m", "celery", "-A", "config", "worker", "--pool", "prefork"),
                *("--concurrency", "1", "--loglevel", "INFO", "--hostname", "faults@%h"),
                *("--queues", f"celery,{settings.CELERY_EMAIL_QUEUE}"),  # events and emails
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
        )
        wait_for_port(self.port, self.processes["web"], timeout=PATIENCE)
        self.wait_until(self.worker_ready)
        return self

    def _spawn(self, name: str, args: list[str]) -> None:
        self._commands[name] = args
        with (self.workdir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, *args],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as one
            )

    def stop(self) -> None:
        for process in self.processes.values():
            stop_group(process, term_wait=20)
        self.processes.clear()
        self.redis.stop()
        self.database.down()
        if self.smtp is not None:
            self.smtp.down()
        self.mail.stop()
        # Their sessions gone from the server, so the test database can be dropped.
        wait_until(lambda: not self._sessions(), timeout=PATIENCE)

    def heal(self) -> None:
        """Everything back up, for the next test: what a test took down, and a process
        that died during it (that test fails on its own: see wait_until)."""
        self.database.up()
        if self.smtp is not None:
            self.smtp.up()
        if not self.redis.running:
            self.redis.start()
        for name, process in list(self.processes.items()):
            if process.poll() is None:
                continue
            since = len(self._read_log(name))
            self._spawn(name, self._commands[name])
            if name == "worker":
                self.wait_until(lambda since=since: " ready." in self._read_log("worker")[since:])
            else:
                wait_for_port(self.port, self.processes[name], timeout=PATIENCE)

    # --- While it runs ------------------------------------------------------------------

    def _read_log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def _sessions(self) -> int:
        """The stack's processes' sessions still on the database server."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [self.session_name],
            )
            return cursor.fetchone()[0]

    def log(self, name: str = "worker") -> str:
        """What the process logged during this test."""
        return self._read_log(name)[self._log_marks.get(name, 0) :]

    def begin_test(self) -> None:
        self._log_marks = {name: len(self._read_log(name)) for name in self.processes}

    def worker_ready(self) -> bool:
        return " ready." in self.log()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}:\n{self.log(name)}")

    def wait_until(self, condition, timeout: float = PATIENCE):
        """Poll `condition` while the processes live; their logs say why when it fails."""

        def alive_and():
            self.check_alive()
            return condition()

        try:
            return wait_until(alive_and, timeout=timeout)
        except AssertionError as failure:
            raise AssertionError(
                f"{failure}\n--- worker log ---\n{self.log()[-6000:]}"
                f"\n--- web log ---\n{self.log('web')[-3000:]}"
            ) from None

    def task_runs(self, task: str, outcome: str = "succeeded") -> list[str]:
        """What each finished run of `task` (e.g. "send_receipt") returned, from the worker's
        log; outcome "retry" lists the retries instead."""
        if outcome == "retry":
            return re.findall(rf"\.{task}\[[\w-]+\] retry: (.*)", self.log())
        return re.findall(rf"\.{task}\[[\w-]+\] succeeded in [\d.e-]+s: (.*)", self.log())

    def held_tasks(self, task: str) -> int:
        """Runs of `task` the worker has received and not finished (running, or waiting
        for a retry's countdown), from its log; a retry is received again under its id."""
        log = self.log()
        received = len(re.findall(rf"\.{task}\[[\w-]+\] received", log))
        finished = len(re.findall(rf"\.{task}\[[\w-]+\] (?:succeeded|retry|raised|failed)", log))
        return received - finished

    def broker_is_bound(self) -> bool:
        """The worker has declared its queue on the broker (after a restart too)."""
        try:
            return bool(self.redis.client().exists("_kombu.binding.celery"))
        except Exception:
            return False

    def idle(self) -> bool:
        """Nothing queued, and nothing the worker holds (running, or a retry's countdown)."""
        broker = self.redis.client()
        queued = any(broker.llen(name) for name in ("celery", settings.CELERY_EMAIL_QUEUE))
        return not queued and not broker.hlen("unacked")

    def deliver(self, event: dict) -> requests.Response:
        """One delivery of `event`, signed, as Stripe makes it (a new connection each time)."""
        body, header = signed(event)
        return requests.post(
            self.site + webhook_path(),
            data=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            timeout=PATIENCE,
        )

    def beat(self, task: str, **kwargs):
        """Send `task` to the worker as beat does (its periodic tasks, run now), and return
        what it returned, read back from the worker's log."""
        name = task.rsplit(".", 1)[1]
        before = len(self.task_runs(name))
        sender = Celery()
        # A connection given: CELERY_BROKER_URL in the environment (the suite's own
        # broker) would win over an app's `broker` argument.
        with sender.connection_for_write(self.redis.url(0)) as broker:
            sender.send_task(task, kwargs=kwargs, queue="celery", connection=broker)
        sender.close()
        return ast.literal_eval(self.wait_until(lambda: self.task_runs(name)[before:])[0])


def paid_gift_event(client, *, email: str, amount: str = "25") -> dict:
    """A real gift, paid in localstripe, and the `payment_intent.succeeded` Stripe sends for
    it (not delivered: the test delivers it). It names the charge by id, as Stripe does,
    so the handler asks Stripe for the charge and its fee."""
    give(client, amount=amount, currency="EUR", email=email)
    donation = Donation.objects.get(donor__email=email)
    intent = gateway.retrieve_payment_intent(donation.stripe_payment_intent_id)
    assert intent.status == "succeeded" and intent.charge_id
    return payloads.intent_succeeded(intent)


def elapsed(since: float) -> float:
    return time.monotonic() - since
