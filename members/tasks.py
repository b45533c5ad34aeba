"""Thin Celery tasks for members: take ids, call services. Safe to run twice."""

from celery import shared_task
from django.conf import settings

from members import emails, retention
from members.services import accounts, card_checks, comp, member_webhooks
from payments import stripe_gateway as gateway

# The longest wait a delivery's task schedules for itself (countdown); longer waits are the
# beat sweep's. Redis hands an unacknowledged task to another worker after its visibility
# timeout (an hour), so a task must never wait anywhere near that.
WEBHOOK_TASK_WAIT_MAX = 600


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def deliver_email(payload: dict) -> None:
    """Hand a rendered account email (verification, login code, reset) to the mail server."""
    accounts.deliver_email(payload)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_membership_email(membership_pk: int, which: str) -> None:
    emails.send_membership_email(membership_pk, which)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_cancel_notice(membership_pk: int) -> bool:
    """The "will not renew" email, once per cancellation (emails.send_cancel_notice)."""
    return emails.send_cancel_notice(membership_pk)


@shared_task
def end_expired_memberships() -> int:
    return comp.end_expired_memberships()


@shared_task(autoretry_for=(gateway.GatewayUnavailable,), retry_backoff=True, max_retries=8)
def follow_membership_card(membership_pk: int) -> None:
    """The card a subscription is charged to changed at Stripe: remember the new one."""
    card_checks.follow_card(membership_pk)


@shared_task
def apply_retention() -> int:
    """Beat, daily: delete joins never paid (see members.retention); how many."""
    return retention.delete_unpaid_joins()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_gift_email(gift_pk: int) -> None:
    """The recipient's email with the claim link (the gift is already marked sent)."""
    from members.services import gifts

    gifts.send_recipient_email(gift_pk)


@shared_task
def send_due_gifts() -> int:
    from members.services import gifts

    return gifts.send_due_gifts()


@shared_task(bind=True, max_retries=None)
def deliver_member_webhook(self, delivery_id: int, attempts: int = 0) -> str:
    """One try of a member webhook delivery (`attempts`: the tries made before this one,
    so a duplicate task finds its try taken). A failure is tried again after a doubling
    wait: by this task for a short wait (not when run eagerly: the web request is not
    kept waiting), else by the beat sweep."""
    tried = member_webhooks.attempt(delivery_id, expected_attempts=attempts)
    wait = tried.retry_in
    if wait is not None and wait <= WEBHOOK_TASK_WAIT_MAX and not self.request.is_eager:
        raise self.retry(args=[delivery_id, tried.attempts], countdown=wait, max_retries=None)
    return tried.outcome


@shared_task
def sweep_member_webhooks() -> int:
    """Beat: send again every pending delivery whose next try is due (a long backoff, or a
    task lost on the way); delete finished ones older than MEMBER_WEBHOOK_LOG_DAYS."""
    member_webhooks.delete_old_deliveries(days=settings.MEMBER_WEBHOOK_LOG_DAYS)
    due = member_webhooks.due_deliveries()
    for delivery_id, attempts in due:
        deliver_member_webhook.delay(delivery_id, attempts)
    return len(due)
