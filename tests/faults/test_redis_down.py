"""Redis (the task broker) down when Stripe's webhook arrives: the event is stored, Stripe
gets its 200, and once Redis is back the sweeper (beat's enqueue_pending_stripe_events:
inbox.enqueue_pending_events) queues what was stored but never queued, and the worker
processes it once.

Real processes throughout (tests/support/site_stack.py): gunicorn with production
settings, a prefork Celery worker, the broker a redis-server of the stack's own,
killed (SIGKILL: what it held is lost) and started again on the same port.
"""

import re
import time
from datetime import timedelta

from payments.models import Payment, Receipt, StripeEvent
from payments.services import inbox
from payments.states import EventStatus
from tests.support.processes import wait_until
from tests.support.site_stack import SEND_UNSENT, SWEEP, elapsed, paid_gift_event


def test_a_webhook_while_redis_is_down_is_stored_answered_200_and_processed_once_redis_is_back(
    client, site_stack
):
    event = paid_gift_event(client, email="broker-down@example.org")
    site_stack.redis.kill()

    started = time.monotonic()
    answer = site_stack.deliver(event)
    answered_in = elapsed(started)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": event["id"], "duplicate": False}
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert (stored.status, stored.payload) == (EventStatus.PENDING, event)
    assert not Payment.objects.exists()
    # Stripe waits for the answer a few seconds at most: the dead broker must not hold it.
    assert answered_in < 5, f"the webhook took {answered_in:.1f}s to answer with Redis down"

    site_stack.redis.start()  # same port, empty
    site_stack.wait_until(site_stack.broker_is_bound)  # the worker is back on the broker
    swept = site_stack.beat(SWEEP, older_than_seconds=0)

    def processed():
        stored.refresh_from_db()
        return stored.status == EventStatus.PROCESSED

    site_stack.wait_until(processed)
    receipt = site_stack.wait_until(
        lambda: Receipt.objects.filter(
            sent_at__isnull=False, email="broker-down@example.org"
        ).first()
    )
    assert swept <= 1  # 0 if the web process's publisher got it to Redis first
    assert Payment.objects.count() == 1
    assert (receipt.times_sent, Payment.objects.get().amount) == (1, 2500)
    assert len(site_stack.mail.to("broker-down@example.org", "receipt")) == 1
    # Processed: the next sweep finds nothing to queue.
    assert inbox.enqueue_pending_events(older_than=timedelta(0)) == 0


def test_redis_restarting_while_a_receipt_waits_for_its_retry_sends_it_once(client, site_stack):
    """The worker holds a task that is due later (a receipt's retry, the mail server
    being down): Redis dies and comes back, without the task (no persistence). The worker
    reconnects, or, hit by kombu's known failure to restore its unacknowledged messages
    on a lost connection (`restore_unacked` on a closed channel, kombu 5.7), exits and is
    started again by its supervisor, as systemd or the platform's process manager does
    in production. Either way the receipt goes out once when the mail server is back."""
    email = "broker-restart@example.org"
    event = paid_gift_event(client, email=email)
    site_stack.smtp.down()
    assert site_stack.deliver(event).status_code == 200

    def holding_a_retry_due_in_a_second_or_more() -> bool:
        retries = site_stack.task_runs("send_receipt", "retry")
        due_in = float(re.match(r"Retry in ([\d.]+)s", retries[-1]).group(1)) if retries else 0
        return due_in >= 1 and site_stack.held_tasks("send_receipt") == 1

    site_stack.wait_until(holding_a_retry_due_in_a_second_or_more)
    site_stack.redis.kill()
    site_stack.redis.start()
    site_stack.smtp.up()

    # Back on the broker: reconnected, or exited and started again by its supervisor.
    wait_until(
        lambda: (
            site_stack.processes["worker"].poll() is not None
            or "Connected to redis" in site_stack.log().split(" lost.")[-1]
        )
    )
    site_stack.heal()
    site_stack.beat(SEND_UNSENT, older_than_minutes=0)
    site_stack.wait_until(lambda: Receipt.objects.filter(email=email, times_sent=1).exists())
    # Nothing left to run: the retry the worker held went back to the broker (and ran,
    # finding the receipt sent) or was lost with Redis.
    site_stack.wait_until(site_stack.idle)
    assert site_stack.task_runs("send_receipt").count("True") == 1
    assert len(site_stack.mail.to(email, "receipt")) == 1
