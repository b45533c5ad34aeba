"""What a receipt says a payment was for, and the tax line under it.

payments knows a payment's kind only. The app that owns memberships (members, a higher
layer) knows a membership payment's interval and level, and the tax line the newsroom
set for that level (a level whose perks include goods cannot say "no goods or services
were provided"). It registers how to describe its payments (`describes_receipts`), so
receipts (the email and the page) say it without payments importing members. Anything
it does not describe gets the kind's words and ORGANIZATION_TAX_NOTE.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from payments.models import Payment
from payments.states import PaymentKind


@dataclass(frozen=True)
class ReceiptTerms:
    description: str  # "One-time gift", "Monthly membership (Supporter)"
    tax_note: str


WORDS = {
    PaymentKind.ONE_TIME: "One-time gift",
    PaymentKind.MEMBERSHIP: "Membership",
    PaymentKind.GIFT: "Gift membership",
}

ReceiptDescriber = Callable[[Payment], ReceiptTerms | None]
_describer: ReceiptDescriber | None = None


def describes_receipts(describer: ReceiptDescriber) -> ReceiptDescriber:
    """Register (as a decorator) how the higher app describes its payments; it answers
    None for a payment it does not know."""
    global _describer
    _describer = describer
    return describer


def default_terms(payment: Payment) -> ReceiptTerms:
    return ReceiptTerms(
        description=WORDS.get(payment.kind, payment.get_kind_display()),
        tax_note=settings.ORGANIZATION_TAX_NOTE,
    )


def receipt_terms(payment: Payment) -> ReceiptTerms:
    """The words and the tax line for this payment's receipt; worked out once per payment
    object (a receipt's email renders them twice, in its text and its HTML part)."""
    terms = getattr(payment, "_receipt_terms", None)
    if terms is None:
        described = _describer(payment) if _describer is not None else None
        terms = payment._receipt_terms = described or default_terms(payment)
    return terms
