"""Thin Celery tasks for members: take ids, call services. Safe to run twice."""

from celery import shared_task

from members import emails, services


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def deliver_email(payload: dict) -> None:
    """Hand a rendered account email (verification, login code, reset) to the mail server."""
    services.deliver_email(payload)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_membership_email(membership_pk: int, which: str) -> None:
    emails.send_membership_email(membership_pk, which)


@shared_task
def end_expired_memberships() -> int:
    return services.end_expired_memberships()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_gift_email(gift_pk: int) -> None:
    """The recipient's email with the claim link (the gift is already marked sent)."""
    from members import gifts

    gifts.send_recipient_email(gift_pk)


@shared_task
def send_due_gifts() -> int:
    from members import gifts

    return gifts.send_due_gifts()
