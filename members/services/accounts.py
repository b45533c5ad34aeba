"""Accounts: the member's profile, and account emails sent by the worker."""

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import transaction

from members.models import User


def update_profile(user: User, *, display_name: str) -> User:
    user.display_name = display_name.strip()
    user.save(update_fields=["display_name"])
    return user


def queue_email(message: EmailMessage) -> None:
    """Send an already rendered email from a Celery task once the transaction commits."""
    from members.tasks import deliver_email

    payload = {
        "subject": message.subject,
        "body": message.body,
        "from_email": message.from_email,
        "to": list(message.to),
        "headers": dict(message.extra_headers),
        "alternatives": [
            [content, mimetype] for content, mimetype in getattr(message, "alternatives", [])
        ],
    }
    transaction.on_commit(lambda: deliver_email.delay(payload))


def deliver_email(payload: dict) -> None:
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["body"],
        from_email=payload["from_email"],
        to=payload["to"],
        headers=payload["headers"],
    )
    for content, mimetype in payload["alternatives"]:
        message.attach_alternative(content, mimetype)
    message.send()
