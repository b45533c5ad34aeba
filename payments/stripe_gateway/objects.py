"""What the gateway returns: small frozen dataclasses, our reading of Stripe's objects.

Callers use these and never see a Stripe object; `parsing.py` builds them.
"""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CardInfo:
    """What a member may be shown of a card: its brand and last four digits."""

    brand: str  # Stripe's word: "visa", "mastercard", "amex", ...
    last4: str


@dataclass(frozen=True)
class SetupIntentInfo:
    id: str
    client_secret: str
    status: str
    payment_method_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    # The card last tried: the confirmed one (when `payment_method` came expanded), or
    # the one a declined confirmation tried (`last_setup_error.payment_method`).
    card_fingerprint: str | None = None
    error_message: str | None = None  # why the last confirmation failed
    failed_payment_method_id: str | None = None  # the card that failed then
    card: CardInfo | None = None  # the confirmed card, when `payment_method` came expanded


@dataclass(frozen=True)
class PaymentMethodInfo:
    """A card the reader entered in the page (Stripe.js `createPaymentMethod`)."""

    id: str
    card_fingerprint: str | None
    customer_id: str | None  # the customer it is attached to, if any
    card: CardInfo | None = None


@dataclass(frozen=True)
class IntentInfo:
    id: str
    status: str
    amount: int
    currency: str
    customer_id: str | None
    charge_id: str | None
    client_secret: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    error_message: str | None = None
    charge: "ChargeInfo | None" = None  # when the object carried the charge expanded
    error_code: str | None = None  # of the last failed attempt (`card_declined`...)
    card_fingerprint: str | None = None  # the card that last failed, when Stripe says


@dataclass(frozen=True)
class ChargeInfo:
    id: str
    payment_intent_id: str | None
    amount: int
    currency: str
    created: datetime
    amount_refunded: int
    email: str | None
    fee: int | None
    net: int | None


@dataclass(frozen=True)
class RefundInfo:
    id: str
    charge_id: str | None
    payment_intent_id: str | None
    amount: int
    currency: str
    status: str
    reason: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DisputeInfo:
    id: str
    charge_id: str | None
    payment_intent_id: str | None
    amount: int
    currency: str
    status: str
    reason: str
    created: datetime


@dataclass(frozen=True)
class SubscriptionInfo:
    id: str
    status: str  # Stripe's: incomplete, active, past_due, canceled...
    customer_id: str | None
    amount: int  # per interval, minor units
    currency: str
    interval: str  # month | year
    plan_id: str | None
    item_id: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    latest_invoice_id: str | None
    created: datetime
    metadata: dict[str, str] = field(default_factory=dict)
    current_period_start: datetime | None = None
    product_id: str | None = None  # the Product of its price (to preview another price)
    default_payment_method_id: str | None = None  # its own card, if it has one


@dataclass(frozen=True)
class InvoiceInfo:
    id: str
    status: str
    customer_id: str | None
    subscription_id: str | None
    payment_intent_id: str | None
    charge_id: str | None  # a charge made without a PaymentIntent
    payments_included: bool  # False when the object came without its payments (webhooks)
    amount_paid: int
    amount_due: int
    currency: str
    billing_reason: str
    period_end: datetime | None  # end of the service period the invoice pays for
    paid_at: datetime | None
    created: datetime
    subscription_metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangePreview:
    """The invoice a subscription change would lead to, as Stripe previews it: the
    interval switch's invoice (charged now), or the next renewal's (with an amount
    change's prorations)."""

    amount_due: int  # what the card is charged (never below 0)
    total: int  # below 0 when the credit is more than the charges (kept for later invoices)
    currency: str
    credit: int  # the unused time of the old price, credited (0 without proration)
    prorated_charge: int  # the rest of the current period at the new price
    period_end: datetime | None  # end of the newest period the invoice pays for
