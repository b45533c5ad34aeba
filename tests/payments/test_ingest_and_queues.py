"""Webhook ingest in one statement, a publish that never holds the request, the sweeper
that enqueues what the broker never got, and the work per event the worker does.

The stored row is the truth: the endpoint answers once the event is inserted, the
process's publisher thread hands the task to the broker, and the beat sweeper
(`inbox.enqueue_pending_events`) enqueues stored events still pending. Receipts and
notices have a queue of their own, so they never wait behind a backlog of events.
"""

import re
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.celery import app
from config.db import commits_without_disk_wait
from payments import emails, tasks
from payments import stripe_gateway as gateway
from payments.models import Donation, Payment, Receipt, StripeEvent
from payments.services import inbox
from payments.services.ledger import META_DONATION, META_KIND
from payments.states import DonationStatus, EventStatus
from tests.factories import DonationFactory, PaymentFactory, ReceiptFactory
from tests.support import stripe_payloads as payloads
from tests.support.processes import PROJECT, wait_until
from tests.support.webhooks import post_event

requires_broker = pytest.mark.skipif(
    settings.CELERY_TASK_ALWAYS_EAGER, reason="needs a real broker (CELERY_BROKER_URL)"
)


def unknown_event(**fields) -> dict:
    """An event of a type nobody handles: processing it asks nothing of Stripe."""
    return payloads.event("customer.created", {"id": "cus_1", "object": "customer"}, **fields)


# --- Ingest: one statement ---------------------------------------------------------------


def test_a_new_event_is_stored_with_one_statement(client, db, django_assert_num_queries):
    sent = unknown_event()

    with django_assert_num_queries(1) as captured:
        response = post_event(client, sent)

    assert response.json() == {"received": sent["id"], "duplicate": False}
    assert re.match(r"INSERT .* ON CONFLICT .* DO NOTHING RETURNING", captured[0]["sql"])
    stored = StripeEvent.objects.get()
    assert (stored.stripe_id, stored.status, stored.attempts) == (sent["id"], "pending", 0)
    assert stored.payload == sent
    assert stored.received_at is not None


def test_a_duplicate_delivery_is_one_statement_and_answers_200_duplicate(
    client, db, django_assert_num_queries
):
    sent = unknown_event()
    post_event(client, sent)

    with django_assert_num_queries(1):
        again = post_event(client, {**sent, "type": "customer.deleted"})

    assert again.status_code == 200
    assert again.json() == {"received": sent["id"], "duplicate": True}
    assert StripeEvent.objects.get().type == "customer.created"  # the first one stands


# --- The broker slow or down: the request is not held, the row is swept later ----------


@pytest.fixture
def broker_held(monkeypatch):
    """The broker hangs: every publish waits until the test ends (then fails)."""
    release = threading.Event()
    started = threading.Event()

    def hung_broker(event_pks):
        started.set()
        release.wait(30)
        raise ConnectionError("the broker did not answer")

    monkeypatch.setattr(inbox, "_send_to_broker", hung_broker)
    yield started
    release.set()
    assert inbox._publisher.wait_until_sent(10)


@requires_broker
def test_a_hung_broker_does_not_hold_the_webhook(
    client, db, broker_held, django_capture_on_commit_callbacks
):
    began = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        responses = [post_event(client, unknown_event()) for _ in range(3)]
    took = time.monotonic() - began

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert broker_held.wait(5)  # the publisher is stuck in the broker meanwhile
    assert took < 2, f"the webhook waited for the broker: {took:.1f} s for 3 deliveries"
    assert StripeEvent.objects.filter(status=EventStatus.PENDING).count() == 3


@requires_broker
def test_an_event_the_broker_refused_is_processed_once_the_sweeper_enqueues_it(
    client, tasks, monkeypatch
):
    def broker_down(event_pks):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(inbox, "_send_to_broker", broker_down)
    sent = unknown_event()

    response = post_event(client, sent)

    assert response.json() == {"received": sent["id"], "duplicate": False}
    assert inbox._publisher.wait_until_sent(5)
    time.sleep(0.5)  # had it been enqueued, the worker would have taken it by now
    event = StripeEvent.objects.get(stripe_id=sent["id"])
    assert (event.status, event.attempts) == (EventStatus.PENDING, 0)

    monkeypatch.undo()  # the broker is back
    assert inbox.enqueue_pending_events(older_than=timedelta(minutes=1)) == 0  # too recent
    assert inbox.enqueue_pending_events(older_than=timedelta(0)) == 1
    assert inbox.enqueue_pending_events(older_than=timedelta(0)) == 0  # not twice

    event = wait_until(
        lambda: StripeEvent.objects.filter(pk=event.pk, status=EventStatus.IGNORED).first()
    )
    assert event.attempts == 1
    assert inbox.enqueue_pending_events(older_than=timedelta(0)) == 0


def test_ids_handed_over_within_the_batch_wait_reach_the_broker_as_one_batch(db, monkeypatch):
    batches = []
    monkeypatch.setattr(inbox, "_send_to_broker", batches.append)
    monkeypatch.setattr(inbox, "BATCH_WAIT", 1.0)  # whatever the machine's load

    assert inbox._publisher.submit(101)
    time.sleep(0.2)  # the publisher has taken the first and waits for more
    assert inbox._publisher.submit(102)
    assert inbox._publisher.submit(103)

    assert inbox._publisher.wait_until_sent(10)
    assert batches == [[101, 102, 103]]


@requires_broker
def test_a_batch_sent_to_the_broker_has_each_of_its_events_processed_once(tasks, monkeypatch):
    monkeypatch.setattr(inbox, "publish_event", lambda pk: None)  # only the batch below
    stored = [inbox.receive_event(unknown_event())[0] for _ in range(3)]

    inbox._send_to_broker([event.pk for event in stored])

    wait_until(
        lambda: StripeEvent.objects.filter(status=EventStatus.IGNORED).count() == len(stored)
    )
    assert sorted(StripeEvent.objects.values_list("attempts", flat=True)) == [1, 1, 1]


def test_the_sweeper_enqueues_only_pending_events_older_than_asked(db, monkeypatch):
    enqueued = []
    monkeypatch.setattr(
        tasks.process_stripe_event, "apply_async", lambda args, **kw: enqueued.append(args[0])
    )
    old = timezone.now() - timedelta(minutes=5)
    lost = [inbox.receive_event(unknown_event())[0] for _ in range(2)]
    done = inbox.receive_event(unknown_event())[0]
    fresh = inbox.receive_event(unknown_event())[0]
    StripeEvent.objects.filter(pk__in=[e.pk for e in [*lost, done]]).update(received_at=old)
    StripeEvent.objects.filter(pk=done.pk).update(status=EventStatus.PROCESSED)

    assert inbox.enqueue_pending_events(older_than=timedelta(minutes=1)) == 2
    assert enqueued == [e.pk for e in lost]
    assert fresh.pk not in enqueued
    # Within SWEEP_AGAIN_AFTER the same events are not enqueued again.
    assert inbox.enqueue_pending_events(older_than=timedelta(minutes=1)) == 0
    assert len(enqueued) == 2


# --- Receipts and notices: a queue of their own ----------------------------------------


@pytest.mark.parametrize(
    "task",
    [
        "payments.tasks.send_receipt",
        "payments.tasks.send_refund_notice",
        "members.tasks.send_membership_email",
        "members.tasks.deliver_email",
    ],
)
def test_emails_are_routed_to_their_own_queue_never_behind_events(task):
    def queue_of(name: str) -> str:
        return app.amqp.router.route({}, name)["queue"].name

    assert settings.CELERY_TASK_ROUTES[task] == {"queue": "emails"}
    assert queue_of(task).endswith(settings.CELERY_EMAIL_QUEUE)
    assert queue_of(task) != queue_of("payments.tasks.process_stripe_event")
    assert queue_of("payments.tasks.process_stripe_event") == app.conf.task_default_queue


def test_make_run_starts_a_worker_for_emails_beside_the_one_for_events():
    procfile = (PROJECT / "Procfile.dev").read_text()

    assert re.search(r"^worker: celery .*worker .*-Q celery\b", procfile, re.MULTILINE)
    assert re.search(r"^emails: celery .*worker .*-Q emails\b", procfile, re.MULTILINE)


# --- The work per event ------------------------------------------------------------------


@pytest.fixture
def paid_gift(monkeypatch, settings):
    """A gift the page stored, its PaymentIntent succeeded; Stripe's charge (with its fee)
    answered from memory, as the handler reads it."""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # anything not faked fails at once
    donation = DonationFactory(status=DonationStatus.PROCESSING)
    intent = payloads.payment_intent(
        amount=donation.amount,
        currency=donation.currency.lower(),
        metadata={META_DONATION: str(donation.public_id), META_KIND: donation.kind},
    )
    charge = payloads.charge(
        id=intent["latest_charge"],
        amount=donation.amount,
        currency=donation.currency.lower(),
        payment_intent=intent["id"],
        balance_transaction=payloads.balance_transaction(amount=donation.amount, fee=90),
    )
    reads = []
    monkeypatch.setattr(
        gateway,
        "retrieve_charge",
        lambda charge_id: reads.append(charge_id) or gateway.charge_from_object(charge),
    )
    monkeypatch.setattr(inbox, "publish_event", lambda pk: None)  # each test runs it itself
    event, _ = inbox.receive_event(payloads.event("payment_intent.succeeded", intent))
    return event, reads


# What a one-time gift's event costs: claim the event (1), read the gift (1); in one
# transaction (2 in tests, as a savepoint; BEGIN and COMMIT in production): lock the gift
# (1), look for its ledger rows (1), the ledger row (1), its hour's revenue (1), its
# receipt (1), the gift's status (1); then the event's outcome (1). (A gift from a
# campaign costs one more: content counts it.)
GIFT_EVENT_STATEMENTS = 11


@pytest.mark.django_db
def test_a_gift_event_is_processed_within_its_statement_budget(
    paid_gift, django_assert_max_num_queries
):
    event, reads = paid_gift

    with django_assert_max_num_queries(GIFT_EVENT_STATEMENTS) as captured:
        assert inbox.process_event(event.pk) == EventStatus.PROCESSED

    payment = Payment.objects.get()
    assert (payment.amount, payment.fee, payment.donation.status) == (2500, 90, "succeeded")
    assert Receipt.objects.filter(payment=payment).count() == 1
    assert len(reads) == 1  # Stripe's fee: the one thing the event does not carry
    updates = [q["sql"] for q in captured if q["sql"].startswith("UPDATE")]
    written = " ".join(re.search(r" SET (.*?) WHERE ", sql).group(1) for sql in updates)
    assert "payload" not in written  # the raw event is never written back
    assert '"donor_id"' not in written  # the gift: only the fields that move


@pytest.mark.django_db
def test_a_repeated_task_for_a_processed_event_costs_two_statements(
    paid_gift, django_assert_num_queries
):
    event, reads = paid_gift
    inbox.process_event(event.pk)

    with django_assert_num_queries(2):
        assert inbox.process_event(event.pk) == EventStatus.PROCESSED

    assert Payment.objects.count() == 1
    assert len(reads) == 1
    assert StripeEvent.objects.get(pk=event.pk).attempts == 1


@pytest.mark.django_db
def test_a_receipt_is_sent_with_three_statements(paid_gift, mailoutbox, django_assert_num_queries):
    event, _ = paid_gift
    inbox.process_event(event.pk)
    payment = Payment.objects.get()

    with django_assert_num_queries(3):  # read it, claim it, record it sent
        assert emails.send_receipt(payment.pk) is True

    assert [m.to for m in mailoutbox] == [[payment.donor.email]]
    assert emails.send_receipt(payment.pk) is False  # once
    assert len(mailoutbox) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_run_that_waited_for_the_gift_lock_finds_the_row_written_meanwhile(paid_gift):
    """Two runs of one gift's event: the one that waited for the lock must see the row the
    other committed meanwhile (a check inside the locking statement would not)."""
    event, _ = paid_gift
    event = StripeEvent.objects.get(pk=event.pk)
    intent = gateway.intent_from_object(event.data_object)
    donation = Donation.objects.get()
    locked, errors = threading.Event(), []

    def first_run() -> None:
        try:
            with transaction.atomic():
                Donation.objects.select_for_update().get(pk=donation.pk)
                locked.set()
                time.sleep(0.5)  # the second run now waits for the lock
                PaymentFactory(
                    donor=donation.donor,
                    donation=donation,
                    stripe_payment_intent_id=intent.id,
                    stripe_charge_id=intent.charge_id,
                )
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=first_run)
    thread.start()
    assert locked.wait(5)

    assert inbox.process_event(event.pk) == EventStatus.PROCESSED

    thread.join(10)
    assert errors == []
    assert Payment.objects.filter(stripe_payment_intent_id=intent.id).count() == 1


@requires_broker
@pytest.mark.django_db
def test_the_sweeper_leaves_pending_events_alone_while_a_backlog_as_long_is_queued(monkeypatch):
    enqueued = []
    monkeypatch.setattr(
        tasks.process_stripe_event, "apply_async", lambda args, **kw: enqueued.append(args[0])
    )
    stored = [inbox.receive_event(unknown_event())[0] for _ in range(3)]
    StripeEvent.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    monkeypatch.setattr(inbox, "_tasks_waiting", lambda task: 3)  # a burst still draining

    assert inbox.enqueue_pending_events(older_than=timedelta(minutes=1)) == 0

    monkeypatch.setattr(inbox, "_tasks_waiting", lambda task: 1)  # fewer queued than pending
    assert inbox.enqueue_pending_events(older_than=timedelta(minutes=1)) == 3
    assert enqueued == [event.pk for event in stored]


@requires_broker
def test_the_broker_says_how_many_messages_wait_in_a_queue():
    queue = f"sweeper-test-{uuid.uuid4().hex[:12]}"  # a queue no worker takes from
    with app.connection_for_write() as broker:
        client = broker.default_channel.client
        assert inbox.messages_waiting(app, queue) is None  # no such queue (yet)
        client.lpush(queue, "{}", "{}")
        try:
            assert inbox.messages_waiting(app, queue) == 2
        finally:
            client.delete(queue)


# --- Which commits wait for the disk (config/db.py) -----------------------------------------

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's"
)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_handlers_writes_commit_without_waiting_for_the_disk_and_the_setting_is_restored(
    paid_gift,
):
    event, _ = paid_gift
    with CaptureQueriesContext(connection) as captured:
        inbox.process_event(event.pk)

    sent = [q["sql"] for q in captured.captured_queries]
    ledger_insert = next(i for i, sql in enumerate(sent) if 'INSERT INTO "payments_payment"' in sql)
    assert sent.index("SET synchronous_commit = off") < ledger_insert
    assert sent.index("RESET synchronous_commit") > ledger_insert
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"  # the worker's next task waits again


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_receipt_sent_mark_waits_for_the_disk_and_so_the_ledger_row_before_it(mailoutbox):
    receipt = ReceiptFactory(sent_at=None, times_sent=0)
    with CaptureQueriesContext(connection) as captured:
        assert emails.send_receipt(receipt.payment_id) is True

    claim, mark = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
    assert "synchronous_commit" in claim  # a lost claim is claimed again
    assert "synchronous_commit" not in mark


@needs_postgresql
@pytest.mark.django_db
def test_commits_inside_a_callers_transaction_keep_the_callers_durability():
    with transaction.atomic(), commits_without_disk_wait(), connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
