"""Email that belongs to no one app: the newsroom's details and templated sending.

An erased person's address is `erased-<...>@invalid`: unique like the one it
replaces, impossible to type into a form (Django refuses a domain without a dot),
and never mailed: `send_templated` skips it.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from config import branding

ERASED_DOMAIN = "invalid"


def erased_address(label: str, pk: int) -> str:
    """The stand-in for an erased email: `erased-42@invalid`, `erased-user-42@invalid`."""
    return f"erased-{label + '-' if label else ''}{pk}@{ERASED_DOMAIN}"


def is_erased_address(email: str | None) -> bool:
    return bool(email) and email.lower().endswith(f"@{ERASED_DOMAIN}")


def organization() -> dict[str, str]:
    """The newsroom's details printed on receipts, statements and emails."""
    return {
        "name": settings.ORGANIZATION_NAME,
        "address": settings.ORGANIZATION_ADDRESS,
        "tax_note": settings.ORGANIZATION_TAX_NOTE,
        "support_email": settings.ORGANIZATION_SUPPORT_EMAIL,
        **branding.for_emails(),  # brand_color, brand_contrast_color, logo_url, website
    }


def send_templated(template: str, subject: str, to: str, context: dict) -> None:
    """Send `<template>.txt` with `<template>.html` as its HTML part, now.

    Nothing is sent to an erased person's stand-in address (`erased-...@invalid`):
    a late receipt, refund notice or membership email has no one to go to.
    """
    if is_erased_address(to):
        return
    context = {**context, "organization": organization(), "site_url": settings.SITE_URL}
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string(f"{template}.txt", context), to=[to]
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    message.send()
