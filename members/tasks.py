"""Thin Celery tasks for members: take ids, call services. Safe to run twice."""

from celery import shared_task

from members import emails
from members.services import accounts, comp


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def deliver_email(payload: dict) -> None:
    """Hand a rendered account email (verification, login code, reset) to the mail server."""
    accounts.deliver_email(payload)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_membership_email(membership_pk: int, which: str) -> None:
    emails.send_membership_email(membership_pk, which)


@shared_task
def end_expired_memberships() -> int:
    return comp.end_expired_memberships()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_gift_email(gift_pk: int) -> None:
    """The recipient's email with the claim link (the gift is already marked sent)."""
    from members.services import gifts

    gifts.send_recipient_email(gift_pk)


@shared_task
def send_due_gifts() -> int:
    from members.services import gifts

    return gifts.send_due_gifts()
