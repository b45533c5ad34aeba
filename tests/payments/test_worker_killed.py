"""A worker killed mid-task: the message comes back, the task runs again, nothing doubles.

Celery acknowledges a task only when it has finished (CELERY_TASK_ACKS_LATE) and
puts it back on the queue when the process running it dies
(CELERY_TASK_REJECT_ON_WORKER_LOST). Our writes are idempotent, so the second run
records what the first could not, once.

Everything here is real: a separate `celery worker` process (prefork, as in
production) on the configured Redis broker and the PostgreSQL test database, a
SIGKILL to its pool process while the handler waits for Stripe, and the Stripe
emulator behind the test proxy. The worker gets a queue of its own, also as its
default queue, so the receipts it enqueues come back to it and not to the
in-process worker other tests start.
"""

import os
import re
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from kombu import Exchange, Queue

from payments import stripe_gateway as gateway
from payments.models import Donation, Payment, Receipt, StripeEvent
from payments.states import EventStatus
from payments.tasks import process_stripe_event
from tests.payments.donations import give
from tests.support import stripe_payloads as stripe
from tests.support.processes import wait_until

pytestmark = pytest.mark.skipif(
    settings.CELERY_TASK_ALWAYS_EAGER or connection.vendor != "postgresql",
    reason="needs a real broker (CELERY_BROKER_URL) and PostgreSQL (DATABASE_URL)",
)

# Long enough for any worker to be started, to pick up a task and to finish it.
PATIENCE = 60


@dataclass
class Worker:
    process: subprocess.Popen
    queue: str
    log_file: Path
    mail_dir: Path

    def enqueue(self, event_pk: int) -> None:
        process_stripe_event.apply_async((event_pk,), queue=self.queue)

    def pool_processes(self) -> list[int]:
        """The prefork pool's children: the processes that run the tasks."""
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        )
        return [int(pid) for pid in found.stdout.split()]

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def finished_event_tasks(self) -> int:
        """process_stripe_event runs that ended (succeeded or raised), from the log."""
        return len(re.findall(r"process_stripe_event\[[\w-]+\] (?:succeeded|raised)", self.log()))

    def emails(self) -> list[str]:
        """What the worker's email backend (files in `mail_dir`) has sent."""
        if not self.mail_dir.exists():
            return []
        return [path.read_text() for path in sorted(self.mail_dir.iterdir())]

    def wait_until(self, condition):
        """Poll `condition` while the worker lives; its log says why when it does not."""

        def alive_and(condition=condition):
            assert self.process.poll() is None, f"the worker exited:\n{self.log()}"
            return condition()

        try:
            return wait_until(alive_and, timeout=PATIENCE)
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n--- worker log ---\n{self.log()}") from None


def worker_database_url() -> str:
    """The database this test writes to (`test_…`), as a URL for the worker's settings."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "localhost", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


@pytest.fixture
def start_worker(transactional_db, stripe_proxy, tmp_path):
    """Start `celery worker` processes that talk to Stripe through the test proxy.

    Depends on `transactional_db` so the worker sees what the test commits, and
    is stopped before the database is emptied.
    """
    started: list[Worker] = []

    def start(*, concurrency: int = 1) -> Worker:
        queue = f"killtest-{uuid.uuid4().hex[:12]}"
        log_file = tmp_path / f"{queue}.log"
        mail_dir = tmp_path / f"{queue}-mail"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "STRIPE_API_BASE": stripe_proxy.url,
            "STRIPE_TIMEOUT": "30",  # longer than any delay below: only the kill interrupts
            "STRIPE_MAX_NETWORK_RETRIES": "0",  # one try, within the task's time budget
            "EMAIL_URL": f"file://{mail_dir}",
            "CELERY_EMAIL_QUEUE": queue,  # its receipts too come back to it
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--hostname",
            f"{queue}@%h",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--",
            # Celery's command-line configuration: this queue is also the worker's
            # default, where the receipts it enqueues go.
            f"task_default_queue={queue}",
        ]
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(process, queue, log_file, mail_dir)
        started.append(worker)
        return worker

    yield start

    from config.celery import app

    for worker in started:
        worker.process.terminate()  # a warm shutdown: running tasks finish
        try:
            worker.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=10)
        with app.connection_for_write() as broker:
            # Declared here so this channel knows the binding, and removes it with the queue.
            queue = Queue(worker.queue, Exchange(worker.queue), worker.queue)(broker)
            queue.declare()
            queue.delete()


def stored_succeeded_event(client) -> StripeEvent:
    """A real gift paid in localstripe, and its `payment_intent.succeeded` in the inbox.

    The event carries the charge as an id, as Stripe sends it, so the handler
    must ask Stripe for the charge and its fee. It is stored, not enqueued:
    each test sends it to its own worker.
    """
    give(client, amount="25", currency="EUR", email="steady@example.org")
    donation = Donation.objects.get()
    intent = gateway.retrieve_payment_intent(donation.stripe_payment_intent_id)
    assert intent.status == "succeeded" and intent.charge_id
    event = stripe.intent_succeeded(intent)
    return StripeEvent.objects.create(
        stripe_id=event["id"],
        type=event["type"],
        api_version=event["api_version"],
        stripe_created=gateway.timestamp(event["created"]),
        payload=event,
    )


def charge_reads(proxy, charge_id: str) -> int:
    return sum(1 for r in proxy.requests if r.path == f"/v1/charges/{charge_id}")


def assert_one_payment_and_one_receipt(
    worker: Worker, event: StripeEvent, *, attempts: int
) -> None:
    """The event is processed, however many runs it took: one ledger row, one receipt,
    one email. Each run counts an attempt when it starts (the event is not locked while
    its handler waits on Stripe)."""
    worker.wait_until(lambda: Receipt.objects.filter(sent_at__isnull=False).exists())
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == (
        EventStatus.PROCESSED,
        attempts,
        "",
    )
    payment = Payment.objects.get()
    assert payment.stripe_payment_intent_id == event.data_object["id"]
    assert payment.stripe_charge_id == event.data_object["latest_charge"]
    assert (payment.amount, payment.currency) == (2500, "EUR")
    receipt = Receipt.objects.get()
    assert (receipt.payment, receipt.times_sent) == (payment, 1)
    emails = worker.emails()
    assert len(emails) == 1
    assert receipt.number in emails[0] and "steady@example.org" in emails[0]


def test_a_worker_killed_while_recording_a_payment_runs_it_again_and_records_it_once(
    client, stripe_proxy, start_worker
):
    event = stored_succeeded_event(client)
    charge_id = event.data_object["latest_charge"]
    # The handler asks Stripe for the charge and its fee: hold that answer, so the
    # task is mid-way (its attempt counted, nothing written) when it dies.
    stripe_proxy.delay_next(20, path="/v1/charges")
    worker = start_worker(concurrency=1)

    worker.enqueue(event.pk)
    worker.wait_until(lambda: charge_reads(stripe_proxy, charge_id) == 1)
    [pool_process] = worker.pool_processes()
    os.kill(pool_process, signal.SIGKILL)

    assert_one_payment_and_one_receipt(worker, event, attempts=2)
    # The task ran again (a second read of the charge) in a new pool process.
    assert charge_reads(stripe_proxy, charge_id) == 2
    assert pool_process not in worker.pool_processes()
    assert "signal 9 (SIGKILL)" in worker.log()
    assert worker.finished_event_tasks() == 1


def test_an_event_task_delivered_twice_at_once_records_one_payment_and_one_receipt(
    client, stripe_proxy, start_worker
):
    event = stored_succeeded_event(client)
    charge_id = event.data_object["latest_charge"]
    stripe_proxy.delay_next(2, path="/v1/charges")  # the first run waits on Stripe
    worker = start_worker(concurrency=2)

    worker.enqueue(event.pk)
    worker.enqueue(event.pk)

    worker.wait_until(lambda: worker.finished_event_tasks() == 2)
    # Both runs ran the idempotent handler side by side; the ledger took one row.
    assert_one_payment_and_one_receipt(worker, event, attempts=2)
    assert charge_reads(stripe_proxy, charge_id) <= 2
