"""Stripe calls that only read: objects retrieved by id, and the lists we page through."""

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.conf import settings

from payments.stripe_gateway import emulator_shapes
from payments.stripe_gateway.objects import (
    ChangePreview,
    ChargeInfo,
    IntentInfo,
    InvoiceInfo,
    PaymentMethodInfo,
    RefundInfo,
    SetupIntentInfo,
    SubscriptionInfo,
)
from payments.stripe_gateway.parsing import (
    _id,
    charge_from_object,
    intent_from_object,
    invoice_from_object,
    payment_method_from_object,
    preview_from_invoice,
    refund_from_object,
    setup_intent_from_object,
    subscription_from_object,
)
from payments.stripe_gateway.transport import _call, client


def retrieve_setup_intent(setup_intent_id: str) -> SetupIntentInfo:
    """The SetupIntent with its card expanded, so the card's fingerprint is known."""
    intent = _call(
        client().v1.setup_intents.retrieve,
        setup_intent_id,
        params={"expand": ["payment_method"]},
    )
    return setup_intent_from_object(intent.to_dict())


def retrieve_payment_method(payment_method_id: str) -> PaymentMethodInfo:
    """A card the page created (by its id, as the page sent it): ObjectNotFound for an
    id Stripe does not know."""
    method = _call(client().v1.payment_methods.retrieve, payment_method_id)
    return payment_method_from_object(method.to_dict())


def retrieve_payment_intent(payment_intent_id: str) -> IntentInfo:
    intent = _call(client().v1.payment_intents.retrieve, payment_intent_id)
    return intent_from_object(intent.to_dict())


def retrieve_subscription(subscription_id: str) -> SubscriptionInfo:
    return subscription_from_object(
        _call(client().v1.subscriptions.retrieve, subscription_id).to_dict()
    )


def preview_subscription_change(
    *,
    subscription_id: str,
    item_id: str,
    product_id: str,
    amount: int,
    currency: str,
    interval: str,
    proration_behavior: str,
    proration_date: int | None = None,
) -> ChangePreview | None:
    """What Stripe would invoice if the subscription's item moved to this price: the
    interval switch's invoice, charged at once, or else the next renewal's.

    The price is described inline (`price_data`), so no Plan is created for an amount
    only looked at. `proration_date` (with "create_prorations") fixes the moment the
    credit is counted from: pass the same to the update for the same amounts.

    None on the emulator: localstripe's preview wants `customer` and a Plan, and
    credits every past invoice whole, so the caller works the amounts out itself.
    """
    if settings.STRIPE_API_BASE:
        return None
    details: dict = {
        "items": [
            {
                "id": item_id,
                "price_data": {
                    "currency": currency.lower(),
                    "product": product_id,
                    "unit_amount": amount,
                    "recurring": {"interval": interval},
                },
            }
        ],
        "proration_behavior": proration_behavior,
    }
    if proration_date is not None and proration_behavior != "none":
        details["proration_date"] = proration_date
    invoice = _call(
        client().v1.invoices.create_preview,
        params={"subscription": subscription_id, "subscription_details": details},
    )
    return preview_from_invoice(invoice.to_dict())


def find_subscription(
    *, customer_id: str, metadata_key: str, value: str
) -> SubscriptionInfo | None:
    """The customer's live subscription whose metadata names our record (one made by a
    request whose answer we never stored, say after a timeout), or None."""
    page = _call(client().v1.subscriptions.list, params={"customer": customer_id, "limit": 100})
    for subscription in page.auto_paging_iter():
        subscription = subscription.to_dict()
        if (subscription.get("metadata") or {}).get(metadata_key) == value:
            return subscription_from_object(subscription)
    return None


def invoice_id_for_payment_intent(payment_intent_id: str) -> str | None:
    """The invoice a PaymentIntent paid (a subscription's), or None for a one-off payment."""
    page = _call(
        client().v1.invoice_payments.list,
        params={
            "payment": {"type": "payment_intent", "payment_intent": payment_intent_id},
            "limit": 10,
        },
    )
    for invoice_payment in page.auto_paging_iter():
        invoice_payment = invoice_payment.to_dict()
        if invoice_payment.get("status") != "canceled":
            return _id(invoice_payment.get("invoice"))
    return None


def retrieve_invoice(invoice_id: str) -> InvoiceInfo:
    """The invoice with its payments (which name the PaymentIntent in the current API)."""
    invoice = _call(
        client().v1.invoices.retrieve, invoice_id, params={"expand": ["payments"]}
    ).to_dict()
    return invoice_from_object(invoice)


def retrieve_charge(charge_id: str) -> ChargeInfo:
    """The charge, with its balance transaction (Stripe's fee) when Stripe has one."""
    charge = _call(
        client().v1.charges.retrieve, charge_id, params={"expand": ["balance_transaction"]}
    ).to_dict()
    transaction_id = emulator_shapes.unexpanded_balance_transaction(charge)
    if transaction_id is not None:
        charge["balance_transaction"] = _call(
            client().v1.balance_transactions.retrieve, transaction_id
        ).to_dict()
    return charge_from_object(charge)


def list_refunds(charge_id: str) -> list[RefundInfo]:
    refunds = _call(client().v1.refunds.list, params={"charge": charge_id, "limit": 100})
    return [refund_from_object(refund.to_dict()) for refund in refunds.auto_paging_iter()]


def list_succeeded_charges(*, created_from: datetime, created_to: datetime) -> Iterator[ChargeInfo]:
    """Stripe's succeeded charges created in [created_from, created_to)."""
    page = _call(
        client().v1.charges.list,
        params={
            "created": {"gte": int(created_from.timestamp()), "lt": int(created_to.timestamp())},
            "limit": 100,
        },
    )
    for charge in page.auto_paging_iter():
        charge = charge.to_dict()
        if charge.get("status") == "succeeded":
            yield charge_from_object(charge)


# Stripe lists events of the last 30 days only, and at most 20 types per request.
EVENT_RETENTION = timedelta(days=30)
MAX_EVENT_TYPES_PER_LIST = 20


def list_events(*, created_since: datetime, types: Iterable[str]) -> Iterator[dict]:
    """Stripe's events of these types created at or after `created_since`, as plain dicts.

    Each event comes in the API version it was created with, which may be older
    than ours (the inbox flags that).
    """
    types = sorted(set(types))
    for start in range(0, len(types), MAX_EVENT_TYPES_PER_LIST):
        page = _call(
            client().v1.events.list,
            params={
                "created": {"gte": int(created_since.timestamp())},
                "types": types[start : start + MAX_EVENT_TYPES_PER_LIST],
                "limit": 100,
            },
        )
        for event in page.auto_paging_iter():
            yield event.to_dict()
