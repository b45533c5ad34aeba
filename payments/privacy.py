"""Data protection in payments: what donor records hold about a person, and erasing it.

The ledger is the newsroom's accounting record and the law makes it keep it for
years: a payment's amount, currency, date, kind and Stripe ids stay, and so do
receipt numbers, refunds and disputes. What goes is what says who paid: the
donor's email and name, the email a receipt went to, the name typed with a gift,
the person's details in the raw Stripe events, and the Stripe Customer itself.

An erased address is `erased-<...>@invalid` (config/emails.py): never mailed.

Members (a higher app) builds on this for a whole person: see members/privacy.py.
"""

import re
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from config.emails import erased_address
from payments import stripe_gateway as gateway
from payments.models import Dispute, Donation, Donor, Payment, Receipt, Refund, StripeEvent
from payments.states import EventStatus

ERASED = "[erased]"


# --- Export ------------------------------------------------------------------------


def _attribution(obj) -> dict[str, Any]:
    return {
        "article": obj.article_slug or None,
        "referrer": obj.referrer or None,
        "campaign": obj.campaign,
        "utm_source": obj.utm_source,
        "utm_medium": obj.utm_medium,
        "utm_campaign": obj.utm_campaign,
        "utm_content": obj.utm_content,
        "utm_term": obj.utm_term,
    }


def export_donors(donor_ids: Iterable[int]) -> dict[str, list[dict[str, Any]]]:
    """The donor records, gifts started, ledger rows (with receipts, refunds and disputes)
    of these donors, as plain JSON-ready data. Amounts are in minor units (cents)."""
    donor_ids = list(donor_ids)
    donors = Donor.objects.filter(pk__in=donor_ids).order_by("created_at", "pk")
    donations = (
        Donation.objects.filter(donor_id__in=donor_ids)
        .select_related("donor")
        .order_by("created_at", "pk")
    )
    payments = (
        Payment.objects.filter(donor_id__in=donor_ids)
        .select_related("receipt", "donation")
        .order_by("paid_at", "pk")
    )
    refunds: dict[int, list[dict]] = {}
    for refund in Refund.objects.filter(payment__donor_id__in=donor_ids).order_by("created_at"):
        refunds.setdefault(refund.payment_id, []).append(
            {
                "amount": refund.amount,
                "currency": refund.currency,
                "status": refund.status,
                "reason": refund.reason,
                "created_at": refund.created_at,
                "stripe_refund_id": refund.stripe_refund_id,
            }
        )
    disputes: dict[int, list[dict]] = {}
    for dispute in Dispute.objects.filter(payment__donor_id__in=donor_ids).order_by("opened_at"):
        disputes.setdefault(dispute.payment_id, []).append(
            {
                "amount": dispute.amount,
                "currency": dispute.currency,
                "reason": dispute.reason,
                "status": dispute.status,
                "opened_at": dispute.opened_at,
                "closed_at": dispute.closed_at,
            }
        )
    return {
        "donor_records": [
            {
                "email": donor.email,
                "name": donor.name,
                "created_at": donor.created_at,
                "stripe_customer_id": donor.stripe_customer_id,
            }
            for donor in donors
        ],
        "gifts_started": [
            {
                "id": str(donation.public_id),
                "donor_email": donation.donor.email,
                "name": donation.name,
                "kind": donation.kind,
                "amount": donation.amount,
                "fee_cover": donation.fee_cover,
                "currency": donation.currency,
                "status": donation.status,
                "card_attempts": donation.attempts,
                "created_at": donation.created_at,
                "updated_at": donation.updated_at,
                "stripe_payment_intent_id": donation.stripe_payment_intent_id,
                **_attribution(donation),
            }
            for donation in donations
        ],
        "payments": [
            {
                "kind": payment.kind,
                "amount": payment.amount,
                "currency": payment.currency,
                "amount_refunded": payment.amount_refunded,
                "paid_at": payment.paid_at,
                "name": payment.donor_name,
                "gift": str(payment.donation.public_id) if payment.donation_id else None,
                "stripe_payment_intent_id": payment.stripe_payment_intent_id,
                "stripe_charge_id": payment.stripe_charge_id,
                "stripe_invoice_id": payment.stripe_invoice_id,
                "receipt": _receipt(payment),
                "refunds": refunds.get(payment.pk, []),
                "disputes": disputes.get(payment.pk, []),
                **_attribution(payment),
            }
            for payment in payments
        ],
    }


def _receipt(payment: Payment) -> dict[str, Any] | None:
    receipt = getattr(payment, "receipt", None)
    if receipt is None:
        return None
    return {
        "number": receipt.number,
        "email": receipt.email,
        "sent_at": receipt.sent_at,
        "times_sent": receipt.times_sent,
    }


# --- Erasure -------------------------------------------------------------------------


def delete_stripe_customers(donors: Iterable[Donor]) -> int:
    """Delete each donor's Stripe Customer (a deleted one counts as done); before any
    local change, so a failure leaves everything to try again. Returns how many."""
    deleted = 0
    for donor in donors:
        if donor.stripe_customer_id:
            gateway.delete_customer(
                donor.stripe_customer_id,
                idempotency_key=f"erase-{donor.stripe_customer_id}",
            )
            deleted += 1
    return deleted


def pseudonymise_donors(donor_ids: Iterable[int]) -> None:
    """Strip who paid from these donors' records; every amount, date and Stripe id stays.

    Call inside a transaction. Safe to run again. The Stripe Customer id stays on
    the donor: the customer is deleted at Stripe, and late events about it still
    find the (erased) donor instead of making a new one.
    """
    donor_ids = sorted(donor_ids)
    # Table by table in the lock order of payments.services: donor → donation → payment
    # → receipt.
    for donor_id in donor_ids:
        Donor.objects.filter(pk=donor_id).update(email=erased_address("", donor_id), name="")
    Donation.objects.filter(donor_id__in=donor_ids).update(name="")
    Payment.objects.filter(donor_id__in=donor_ids).update(donor_name="")
    for donor_id in donor_ids:
        Receipt.objects.filter(payment__donor_id=donor_id).update(
            email=erased_address("", donor_id)
        )


# Keys of Stripe objects that carry a person's details (customer, charge, billing
# and payment method objects). Their values are blanked in stored events.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "name",
        "phone",
        "address",
        "shipping",
        "receipt_email",
        "customer_email",
        "customer_name",
        "customer_phone",
        "customer_address",
        "customer_shipping",
        "last4",
        "fingerprint",
        "exp_month",
        "exp_year",
    }
)


def _scrub(value: Any, pattern: re.Pattern[str] | None) -> Any:
    if isinstance(value, dict):
        return {
            key: (None if key in PERSONAL_KEYS and item is not None else _scrub(item, pattern))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrub(item, pattern) for item in value]
    if isinstance(value, str) and pattern is not None:
        return pattern.sub(ERASED, value)
    return value


def redact_events(*, customer_ids: Iterable[str], emails: Iterable[str]) -> int:
    """Blank the person's details in the raw Stripe events that mention them.

    Only events already handled (processed or ignored): a pending or failed one is
    still to write the ledger, and is deleted by retention once handled. The event
    keeps its id, type, dates and the ids in its object. Returns how many changed.
    """
    emails = [email for email in emails if email]
    needles = [*(value for value in customer_ids if value), *emails]
    if not needles:
        return 0
    pattern = (
        re.compile("|".join(re.escape(email) for email in emails), re.IGNORECASE)
        if emails
        else None
    )
    mentions = Q()
    for needle in needles:
        mentions |= Q(text__icontains=needle)
    events = (
        StripeEvent.objects.filter(status__in=[EventStatus.PROCESSED, EventStatus.IGNORED])
        .annotate(text=Cast("payload", output_field=TextField()))
        .filter(mentions)
    )
    changed = 0
    for event in events.only("pk", "payload", "last_error", "ignored_reason").iterator():
        event.payload = _scrub(event.payload, pattern)
        if pattern is not None:
            event.last_error = pattern.sub(ERASED, event.last_error)
            event.ignored_reason = pattern.sub(ERASED, event.ignored_reason)
        event.save(update_fields=["payload", "last_error", "ignored_reason"])
        changed += 1
    return changed
