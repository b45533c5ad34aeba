"""Stripe objects and events in the CURRENT API shape, for webhook and handler tests.

localstripe answers in an older shape (`payment_intent.charges`,
`invoice.subscription`, ...); real Stripe sends what these builders make:
`payment_intent.latest_charge`, `invoice.parent.subscription_details.subscription`,
the invoice's `payments` (invoice_payment objects), and `current_period_end`
on subscription items. Each builder emits only keys Stripe really has
(tests/test_stripe_payloads.py checks them against Stripe's own fixtures) and
takes keyword arguments for the fields our handlers read.

Amounts are integers in minor units; currencies are lower-case as Stripe sends them.
"""

import time
import uuid

# The API version the `stripe` library pins (stripe 16.1): what real Stripe sends us.
API_VERSION = "2026-10-28.endive"


def new_id(prefix: str) -> str:
    """A fresh Stripe-looking id: `pi_…`, `ch_…`, `evt_…`."""
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def balance_transaction(*, amount: int = 2500, fee: int = 0, currency: str = "eur", **extra):
    """A charge's balance transaction, as `expand=["balance_transaction"]` returns it."""
    return {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "currency": currency,
        "fee": fee,
        "net": amount - fee,
        "created": now(),
        "status": "available",
        "type": "charge",
        **extra,
    }


def charge(
    *,
    id: str | None = None,
    amount: int = 2500,
    currency: str = "eur",
    payment_intent: str | None = None,
    customer: str | None = None,
    amount_refunded: int = 0,
    balance_transaction: str | dict | None = None,
    email: str | None = None,
    created: int | None = None,
    metadata: dict | None = None,
    status: str = "succeeded",
) -> dict:
    """A charge; `balance_transaction` is an id (as in events) or an expanded dict."""
    return {
        "id": id or new_id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "balance_transaction": balance_transaction or new_id("txn"),
        "billing_details": {"email": email, "name": None},
        "captured": True,
        "created": created or now(),
        "currency": currency,
        "customer": customer,
        "disputed": False,
        "livemode": False,
        "metadata": metadata or {},
        "paid": status == "succeeded",
        "payment_intent": payment_intent,
        "receipt_email": email,
        "refunded": amount_refunded >= amount,
        "status": status,
    }


def payment_method(*, id: str | None = None, fingerprint: str | None = None) -> dict:
    """A card payment method; `fingerprint` is the same for every use of one card number."""
    return {
        "id": id or new_id("pm"),
        "object": "payment_method",
        "billing_details": {"email": None, "name": None},
        "card": {
            "brand": "visa",
            "country": "US",
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": fingerprint or uuid.uuid4().hex[:16],
            "funding": "credit",
            "last4": "0002",
        },
        "created": now(),
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def card_error(
    message: str,
    *,
    card: str | None = None,
    code: str = "card_declined",
    decline_code: str | None = None,
) -> dict:
    """A card decline as `last_payment_error` / `last_setup_error` carry it; `card` (a
    fingerprint) adds the payment method tried, as Stripe includes it; `decline_code` is
    the bank's reason, which Stripe adds to some `card_declined` errors."""
    error = {"type": "card_error", "code": code, "message": message}
    if decline_code is not None:
        error["decline_code"] = decline_code
    if card is not None:
        error["payment_method"] = payment_method(fingerprint=card)
    return error


def setup_intent(
    *,
    id: str | None = None,
    status: str = "requires_payment_method",
    customer: str | None = None,
    payment_method: str | dict | None = None,
    metadata: dict | None = None,
    error: str | None = None,
    card: str | None = None,
    decline_code: str | None = None,
    usage: str = "on_session",
    created: int | None = None,
) -> dict:
    """A SetupIntent; `error` fills `last_setup_error` as a card declined at setup (as in
    `setup_intent.setup_failed`), naming the card tried when `card` (a fingerprint) is given,
    and the bank's reason when `decline_code` is."""
    id = id or new_id("seti")
    return {
        "id": id,
        "object": "setup_intent",
        "cancellation_reason": None,
        "client_secret": f"{id}_secret_{uuid.uuid4().hex[:24]}",
        "created": created or now(),
        "customer": customer,
        "last_setup_error": (
            card_error(error, card=card, decline_code=decline_code) if error else None
        ),
        "livemode": False,
        "metadata": metadata or {},
        "payment_method": payment_method,
        "payment_method_types": ["card"],
        "status": status,
        "usage": usage,
    }


def payment_intent(
    *,
    id: str | None = None,
    amount: int = 2500,
    currency: str = "eur",
    status: str = "succeeded",
    customer: str | None = None,
    latest_charge: str | dict | None = None,
    metadata: dict | None = None,
    error: str | None = None,
    card: str | None = None,
    decline_code: str | None = None,
    created: int | None = None,
) -> dict:
    """A PaymentIntent; `latest_charge` is an id (as in events) or an expanded charge.

    A succeeded intent gets a fresh charge id unless given one; `error` fills
    `last_payment_error` as a card decline (naming the card tried when `card`, a
    fingerprint, is given, and the bank's reason when `decline_code` is).
    """
    id = id or new_id("pi")
    if latest_charge is None and status == "succeeded":
        latest_charge = new_id("ch")
    return {
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "capture_method": "automatic_async",
        "client_secret": f"{id}_secret_{uuid.uuid4().hex[:24]}",
        "created": created or now(),
        "currency": currency,
        "customer": customer,
        "last_payment_error": (
            card_error(error, card=card, decline_code=decline_code) if error else None
        ),
        "latest_charge": latest_charge,
        "livemode": False,
        "metadata": metadata or {},
        "payment_method_types": ["card"],
        "status": status,
    }


def refund(
    *,
    id: str | None = None,
    amount: int = 1000,
    currency: str = "eur",
    charge: str | None = None,
    payment_intent: str | None = None,
    status: str = "succeeded",
    reason: str | None = None,
    metadata: dict | None = None,
    created: int | None = None,
) -> dict:
    return {
        "id": id or new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge or new_id("ch"),
        "created": created or now(),
        "currency": currency,
        "metadata": metadata or {},
        "payment_intent": payment_intent,
        "reason": reason,
        "status": status,
    }


def dispute(
    *,
    id: str | None = None,
    amount: int = 2500,
    currency: str = "eur",
    charge: str | None = None,
    payment_intent: str | None = None,
    status: str = "needs_response",
    reason: str = "fraudulent",
    created: int | None = None,
) -> dict:
    """A dispute; `created` is when it was opened (Stripe keeps it on every update)."""
    created = created or now()
    return {
        "id": id or new_id("dp"),
        "object": "dispute",
        "amount": amount,
        "charge": charge or new_id("ch"),
        "created": created,
        "currency": currency,
        "evidence_details": {
            "due_by": created + 7 * 86400,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": reason,
        "status": status,
    }


def invoice_payment(
    *,
    id: str | None = None,
    invoice: str | None = None,
    payment_intent: str | None = None,
    amount: int = 500,
    currency: str = "eur",
    status: str = "paid",
    created: int | None = None,
) -> dict:
    """How the current API links an invoice to the PaymentIntent that paid it."""
    created = created or now()
    paid = status == "paid"
    return {
        "id": id or new_id("inpay"),
        "object": "invoice_payment",
        "amount_paid": amount if paid else None,
        "amount_requested": amount,
        "created": created,
        "currency": currency,
        "invoice": invoice or new_id("in"),
        "is_default": True,
        "livemode": False,
        "payment": {"type": "payment_intent", "payment_intent": payment_intent or new_id("pi")},
        "status": status,
        "status_transitions": {"canceled_at": None, "paid_at": created if paid else None},
    }


def invoice(
    *,
    id: str | None = None,
    customer: str | None = None,
    subscription: str | None = None,
    amount: int = 500,
    currency: str = "eur",
    status: str = "paid",
    billing_reason: str = "subscription_cycle",
    payments: list[dict] | None = None,
    service_end: int | None = None,
    subscription_metadata: dict | None = None,
    metadata: dict | None = None,
    created: int | None = None,
) -> dict:
    """An invoice of a subscription; the subscription is under `parent`, not at the top.

    One line, for the service period that ends at `service_end` (a month on).
    `payments` are invoice_payment dicts (Stripe includes this list when asked
    for it with `expand`); leave it out for an invoice as webhooks send it.
    """
    id = id or new_id("in")
    created = created or now()
    paid = status == "paid"
    subscription = subscription or new_id("sub")
    line = {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "invoice": id,
        "period": {"start": created, "end": service_end or created + 30 * 86400},
        "parent": {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "subscription": subscription,
                "subscription_item": new_id("si"),
            },
        },
        "quantity": 1,
    }
    obj = {
        "id": id,
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "billing_reason": billing_reason,
        "created": created,
        "currency": currency,
        "customer": customer or new_id("cus"),
        "lines": {"object": "list", "data": [line], "has_more": False},
        "livemode": False,
        "metadata": metadata or {},
        "parent": {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": subscription_metadata or {},
                "subscription": subscription,
            },
        },
        "period_end": created,  # invoice items' window, not the service period
        "period_start": created,
        "status": status,
        "status_transitions": {
            "finalized_at": created,
            "marked_uncollectible_at": None,
            "paid_at": created if paid else None,
            "voided_at": None,
        },
        "total": amount,
    }
    if payments is not None:
        obj["payments"] = {"object": "list", "data": payments, "has_more": False}
    return obj


def subscription(
    *,
    id: str | None = None,
    customer: str | None = None,
    status: str = "active",
    price: str | None = None,
    amount: int = 500,
    currency: str = "eur",
    interval: str = "month",
    current_period_start: int | None = None,
    current_period_end: int | None = None,
    cancel_at_period_end: bool = False,
    latest_invoice: str | None = None,
    metadata: dict | None = None,
    created: int | None = None,
) -> dict:
    """A one-item subscription; its period lives on the item, not the subscription."""
    id = id or new_id("sub")
    created = created or now()
    start = current_period_start or created
    item = {
        "id": new_id("si"),
        "object": "subscription_item",
        "created": created,
        "current_period_start": start,
        "current_period_end": current_period_end or start + 30 * 86400,
        "metadata": {},
        "price": {
            "id": price or new_id("price"),
            "object": "price",
            "active": True,
            "currency": currency,
            "recurring": {"interval": interval, "interval_count": 1},
            "type": "recurring",
            "unit_amount": amount,
        },
        "quantity": 1,
        "subscription": id,
    }
    return {
        "id": id,
        "object": "subscription",
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": None,
        "created": created,
        "currency": currency,
        "customer": customer or new_id("cus"),
        "ended_at": None,
        "items": {"object": "list", "data": [item], "has_more": False},
        "latest_invoice": latest_invoice,
        "livemode": False,
        "metadata": metadata or {},
        "start_date": created,
        "status": status,
    }


def event(
    type: str,
    obj: dict,
    *,
    id: str | None = None,
    created: int | None = None,
    api_version: str = API_VERSION,
) -> dict:
    """The event Stripe would POST about `obj`."""
    return {
        "id": id or new_id("evt"),
        "object": "event",
        "api_version": api_version,
        "created": created or now(),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }


def intent_succeeded(intent) -> dict:
    """`payment_intent.succeeded` for a PaymentIntent read from the emulator (an
    `IntentInfo`): the event Stripe sends once a gift is paid."""
    return event(
        "payment_intent.succeeded",
        payment_intent(
            id=intent.id,
            amount=intent.amount,
            currency=intent.currency.lower(),
            customer=intent.customer_id,
            latest_charge=intent.charge_id,
            metadata=intent.metadata,
        ),
    )
