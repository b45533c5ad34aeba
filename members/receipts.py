"""How receipts name members' payments (payments/receipts.py asks; registered in
signals.py): a membership payment by its interval and level, with the tax line the
newsroom set for that level (MembershipLevel.receipt_tax_note; blank: the default line),
and a gift membership by its length."""

from django.conf import settings

from members.models import GiftMembership, Membership
from members.states import MembershipKind
from payments.models import Payment
from payments.receipts import ReceiptTerms
from payments.states import PaymentKind


def membership_paid_by(payment: Payment) -> Membership | None:
    """The paid membership a membership payment was for: its payer's newest one started
    by the time it was paid (a ledger row does not name its subscription)."""
    memberships = Membership.objects.filter(
        donor_id=payment.donor_id, kind=MembershipKind.PAID
    ).select_related("level")
    return (
        memberships.filter(created_at__lte=payment.paid_at).order_by("-created_at").first()
        or memberships.order_by("created_at").first()
    )


def describe_payment(payment: Payment) -> ReceiptTerms | None:
    if payment.kind == PaymentKind.MEMBERSHIP:
        membership = membership_paid_by(payment)
        if membership is None:
            return None
        words = f"{membership.get_interval_display()} membership" if membership.interval else ""
        level = membership.level
        return ReceiptTerms(
            description=(words or "Membership") + (f" ({level.name})" if level else ""),
            tax_note=(level.receipt_tax_note.strip() if level else "")
            or settings.ORGANIZATION_TAX_NOTE,
        )
    if payment.kind == PaymentKind.GIFT and payment.donation_id:
        gift = GiftMembership.objects.filter(donation_id=payment.donation_id).first()
        if gift is None:
            return None
        return ReceiptTerms(
            description=f"Gift membership ({gift.months} months)",
            tax_note=settings.ORGANIZATION_TAX_NOTE,
        )
    return None
