"""`{% receipt_terms payment as terms %}`: what a receipt says the payment was for
(`terms.description`) and its tax line (`terms.tax_note`); see payments/receipts.py."""

from django import template

from payments.models import Payment
from payments.receipts import WORDS, ReceiptTerms
from payments.receipts import receipt_terms as terms_of

register = template.Library()


@register.simple_tag
def receipt_terms(payment: Payment) -> ReceiptTerms:
    return terms_of(payment)


@register.filter
def payment_words(payment: Payment) -> str:
    """A ledger row's kind in a reader's words ("One-time gift"), with no query."""
    return WORDS.get(payment.kind, payment.get_kind_display())
