from celery import shared_task

from members import services


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def deliver_email(payload: dict) -> None:
    """Hand a rendered account email (verification, login code, reset) to the mail server."""
    services.deliver_email(payload)
