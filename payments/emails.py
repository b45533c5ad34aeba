"""Receipts and refund notices: rendered from templates, sent once, resendable by staff."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from payments.models import Receipt, Refund
from payments.money import Money


def organization() -> dict[str, str]:
    """The newsroom's details printed on receipts, statements and emails."""
    return {
        "name": settings.ORGANIZATION_NAME,
        "address": settings.ORGANIZATION_ADDRESS,
        "tax_note": settings.ORGANIZATION_TAX_NOTE,
        "support_email": settings.ORGANIZATION_SUPPORT_EMAIL,
    }


def send_templated(template: str, subject: str, to: str, context: dict) -> None:
    """Send `<template>.txt` with `<template>.html` as its HTML part, now."""
    context = {**context, "organization": organization(), "site_url": settings.SITE_URL}
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string(f"{template}.txt", context), to=[to]
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    message.send()


def send_receipt(payment_pk: int, *, resend: bool = False) -> bool:
    """Email the receipt of a ledger row once (or again when staff resend it).

    The row lock makes concurrent runs queue; the second sees `sent_at` and stops.
    """
    with transaction.atomic():
        receipt = (
            Receipt.objects.select_for_update()
            .select_related("payment__donor")
            .get(payment_id=payment_pk)
        )
        if receipt.sent_at is not None and not resend:
            return False
        payment = receipt.payment
        donor = payment.donor
        context = {
            "receipt": receipt,
            "payment": payment,
            "amount": Money(payment.amount, payment.currency),
            "donor_name": donor.name,
            "history_url": settings.SITE_URL + reverse("members:account")
            if donor.user_id
            else None,
        }
        send_templated(
            "payments/email/receipt",
            f"Your receipt from {settings.ORGANIZATION_NAME} ({receipt.number})",
            receipt.email,
            context,
        )
        receipt.sent_at = receipt.sent_at or timezone.now()
        receipt.times_sent += 1
        receipt.save(update_fields=["sent_at", "times_sent"])
    return True


def send_refund_notice(refund_pk: int) -> bool:
    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update(of=("self",))
            .select_related("payment__donor", "payment__receipt")
            .get(pk=refund_pk)
        )
        if refund.notice_sent_at is not None:
            return False
        payment = refund.payment
        send_templated(
            "payments/email/refund_notice",
            f"Your refund from {settings.ORGANIZATION_NAME}",
            payment.donor.email,
            {
                "refund": refund,
                "payment": payment,
                "refunded": Money(refund.amount, refund.currency),
                "original": Money(payment.amount, payment.currency),
                "receipt_number": payment.receipt.number,
                "donor_name": payment.donor.name,
            },
        )
        refund.notice_sent_at = timezone.now()
        refund.save(update_fields=["notice_sent_at"])
    return True
