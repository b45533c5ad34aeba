"""Thin Celery tasks: take ids, call services. All idempotent: safe to run twice."""

from celery import shared_task

from payments import emails, handlers, services


@shared_task(bind=True, max_retries=10)
def process_stripe_event(self, event_pk: int) -> str:
    try:
        return handlers.process_event(event_pk)
    except handlers.EventFailed as exc:
        # 10 s, 20 s, 40 s ... capped at an hour; reconciliation catches anything later.
        raise self.retry(exc=exc, countdown=min(10 * 2**self.request.retries, 3600)) from exc


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_receipt(payment_pk: int, resend: bool = False) -> bool:
    return emails.send_receipt(payment_pk, resend=resend)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_refund_notice(refund_pk: int) -> bool:
    return emails.send_refund_notice(refund_pk)


@shared_task
def reconcile_stripe_events() -> dict[str, int]:
    result = services.reconcile_events()
    return {"seen": result.seen, "stored": result.stored, "requeued": result.requeued}
