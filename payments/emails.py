"""Receipts and refund notices: rendered from templates, sent once, resendable by staff."""

from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from config.db import without_disk_wait
from config.emails import send_templated
from payments.models import Receipt, Refund
from payments.money import Money
from payments.states import RefundStatus

# A claim older than this is a sender that died (between claiming and sending, or
# before recording that it sent): the sweeper may claim the email again.
CLAIM_TIMEOUT = timedelta(minutes=10)


def _claimed(model, pk: int, claim_field: str, sent_field: str, *, again: bool) -> bool:
    """Claim one email for this sender: one conditional UPDATE of the email's own row
    (atomic on its own, so exactly-once without a transaction block or a lock held).

    Refused when it was sent already (unless `again`, a staff resend), or when
    another sender holds a claim younger than CLAIM_TIMEOUT.
    """
    now = timezone.now()
    free = Q(**{f"{claim_field}__isnull": True}) | Q(**{f"{claim_field}__lte": now - CLAIM_TIMEOUT})
    if not again:
        free &= Q(**{f"{sent_field}__isnull": True})
    return bool(without_disk_wait(model.objects.filter(free, pk=pk)).update(**{claim_field: now}))


def send_receipt(payment_pk: int, *, resend: bool = False) -> bool:
    """Email the receipt of a ledger row once (or again when staff resend it).

    The claim is recorded before sending and the result after, each one statement of
    its own, so no lock is held while the mail server is slow, two
    senders never both send, and a sender that died after claiming leaves the
    receipt to the sweeper (`send_unsent_emails`) once its claim is stale.
    """
    receipt = Receipt.objects.select_related("payment__donor").get(payment_id=payment_pk)
    if not _claimed(Receipt, receipt.pk, "claimed_at", "sent_at", again=resend):
        return False
    payment = receipt.payment
    donor = payment.donor
    try:
        send_templated(
            "payments/email/receipt",
            f"Your receipt from {settings.ORGANIZATION_NAME} ({receipt.number})",
            receipt.email,
            {
                "receipt": receipt,
                "payment": payment,
                "amount": Money(payment.amount, payment.currency),
                "donor_name": payment.donor_name,
                "history_url": settings.SITE_URL + reverse("members:account")
                if donor.user_id
                else None,
            },
        )
    except Exception:
        Receipt.objects.filter(pk=receipt.pk).update(claimed_at=None)  # not sent: free it
        raise
    # Waits for the disk, and with it the ledger row logged before it (config/db.py).
    Receipt.objects.filter(pk=receipt.pk).update(
        sent_at=Coalesce("sent_at", Value(timezone.now())),
        times_sent=F("times_sent") + 1,
        claimed_at=None,
    )
    return True


def send_refund_notice(refund_pk: int) -> bool:
    """Tell the donor once that a refund went through (claimed like a receipt)."""
    refund = Refund.objects.select_related("payment__donor", "payment__receipt").get(pk=refund_pk)
    if not _claimed(Refund, refund.pk, "notice_claimed_at", "notice_sent_at", again=False):
        return False
    payment = refund.payment
    try:
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
                "donor_name": payment.donor_name,
            },
        )
    except Exception:
        Refund.objects.filter(pk=refund.pk).update(notice_claimed_at=None)
        raise
    Refund.objects.filter(pk=refund.pk).update(
        notice_sent_at=timezone.now(), notice_claimed_at=None
    )
    return True


def unsent_email_ids(*, older_than: timedelta) -> tuple[list[int], list[int]]:
    """Receipts (by payment) and refund notices that should have gone out by now and
    have not, with no live claim on them: what the sweeper sends."""
    now = timezone.now()
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT)
    receipts = Receipt.objects.filter(
        free, sent_at__isnull=True, created_at__lt=now - older_than
    ).values_list("payment_id", flat=True)
    notices = Refund.objects.filter(
        Q(notice_claimed_at__isnull=True) | Q(notice_claimed_at__lt=now - CLAIM_TIMEOUT),
        status=RefundStatus.SUCCEEDED,
        notice_sent_at__isnull=True,
        updated_at__lt=now - older_than,
    ).values_list("pk", flat=True)
    return list(receipts), list(notices)
