"""Thin Celery tasks: take ids, call services. All idempotent: safe to run twice."""

from dataclasses import asdict
from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError

from payments import emails, retention
from payments.services import inbox

# What a task may meet and outlive: a mail server down or refusing (SMTPException
# is an OSError), a deadlock or serialization failure (OperationalError), a lost
# database connection (InterfaceError). Retried with backoff; whatever is still
# undone after that is picked up by a beat task (`send_unsent_emails`,
# `enqueue_pending_stripe_events`, `reconcile_stripe_events`).
TRANSIENT = (OSError, OperationalError, InterfaceError)


@shared_task(bind=True, max_retries=10)
def process_stripe_event(self, event_pk: int) -> str:
    """A handler's own failure is recorded on the event (EventFailed); a database error
    around it (the event row's lock, the commit) leaves the event pending. Both retry."""
    try:
        return inbox.process_event(event_pk)
    except (inbox.EventFailed, *TRANSIENT) as exc:
        # 10 s, 20 s, 40 s ... capped at an hour; reconciliation catches anything later.
        raise self.retry(exc=exc, countdown=min(10 * 2**self.request.retries, 3600)) from exc


EMAIL_RETRIES = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "max_retries": 8,
}


@shared_task(**EMAIL_RETRIES)
def send_receipt(payment_pk: int, resend: bool = False) -> bool:
    return emails.send_receipt(payment_pk, resend=resend)


@shared_task(**EMAIL_RETRIES)
def send_refund_notice(refund_pk: int) -> bool:
    return emails.send_refund_notice(refund_pk)


@shared_task
def send_unsent_emails(older_than_minutes: int = 3) -> dict[str, int]:
    """Beat: send every receipt and refund notice still unsent a few minutes after it
    was due (its task lost, or out of retries). Claims keep it exactly-once."""
    receipts, notices = emails.unsent_email_ids(older_than=timedelta(minutes=older_than_minutes))
    for payment_pk in receipts:
        send_receipt.delay(payment_pk)
    for refund_pk in notices:
        send_refund_notice.delay(refund_pk)
    return {"receipts": len(receipts), "refund_notices": len(notices)}


@shared_task
def enqueue_pending_stripe_events(older_than_seconds: int = 60) -> int:
    """Beat, every 30 s: enqueue stored events still pending a while after they arrived
    (never enqueued: the broker was down or slow; or their task lost). See
    inbox.enqueue_pending_events."""
    return inbox.enqueue_pending_events(older_than=timedelta(seconds=older_than_seconds))


@shared_task
def reconcile_stripe_events() -> dict[str, int]:
    result = inbox.reconcile_events()
    return {"seen": result.seen, "stored": result.stored, "requeued": result.requeued}


@shared_task
def apply_retention() -> dict[str, int]:
    """Beat, daily: delete old raw Stripe events and gifts never paid (see payments.retention)."""
    return asdict(retention.apply_retention())
