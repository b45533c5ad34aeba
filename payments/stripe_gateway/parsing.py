"""Reading Stripe objects (as plain dicts) in the pinned API version's shape into our
dataclasses.

Each `*_from_object` fails loudly (UnreadableObject) on an object that lacks a
field every object of the pinned version has. Where localstripe answers in an
older shape, the fallback is read through `emulator_shapes.py`, never here.
"""

from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from payments.stripe_gateway import emulator_shapes
from payments.stripe_gateway.errors import UnreadableObject, card_message
from payments.stripe_gateway.objects import (
    CardInfo,
    ChangePreview,
    ChargeInfo,
    DisputeInfo,
    IntentInfo,
    InvoiceInfo,
    PaymentMethodInfo,
    RefundInfo,
    SetupIntentInfo,
    SubscriptionInfo,
)


def _id(value: Any) -> str | None:
    """An id field that may also come expanded (as a dict or a library object)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        return value.get("id")
    return getattr(value, "id", None) if value is not None else None


def timestamp(seconds: int) -> datetime:
    """Stripe's times (seconds since 1970) as aware datetimes in UTC."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def _required(obj: dict, *keys: str) -> None:
    """Fail loudly on an object missing fields every object of this API version has."""
    missing = [key for key in keys if key not in obj]
    if missing:
        raise UnreadableObject(
            f"{obj.get('object') or 'object'} {obj.get('id')} lacks {', '.join(missing)}: "
            f"not in the shape of API version {settings.STRIPE_API_VERSION}"
        )


def _card_fingerprint(payment_method: Any) -> str | None:
    """An expanded payment method's card fingerprint (None for an id, or no card)."""
    if not isinstance(payment_method, dict):
        return None
    return (payment_method.get("card") or {}).get("fingerprint") or None


def _card(payment_method: Any) -> CardInfo | None:
    """An expanded payment method's card, as a member may see it (None for an id)."""
    card = payment_method.get("card") if isinstance(payment_method, dict) else None
    if not card or not card.get("last4"):
        return None
    return CardInfo(brand=str(card.get("brand") or ""), last4=str(card["last4"]))


def payment_method_from_object(obj: dict) -> PaymentMethodInfo:
    _required(obj, "id")
    return PaymentMethodInfo(
        id=obj["id"],
        card_fingerprint=_card_fingerprint(obj),
        customer_id=_id(obj.get("customer")),
        card=_card(obj),
    )


def _reader_message(error: dict) -> str | None:
    """What the reader is told of a failed attempt (`last_..._error`), in our words."""
    return card_message(error.get("code"), error.get("decline_code")) if error else None


def setup_intent_from_object(obj: dict) -> SetupIntentInfo:
    _required(obj, "id", "status")
    error = obj.get("last_setup_error") or {}
    failed_method = error.get("payment_method")
    return SetupIntentInfo(
        id=obj["id"],
        client_secret=obj.get("client_secret") or "",
        status=obj["status"],
        payment_method_id=_id(obj.get("payment_method")),
        metadata=dict(obj.get("metadata") or {}),
        card_fingerprint=(
            _card_fingerprint(obj.get("payment_method")) or _card_fingerprint(failed_method)
        ),
        error_message=_reader_message(error),
        failed_payment_method_id=_id(failed_method),
        card=_card(obj.get("payment_method")),
    )


def intent_from_object(obj: dict) -> IntentInfo:
    _required(obj, "id", "status", "amount", "currency")
    latest = obj.get("latest_charge")  # an id, or the charge when it came expanded
    if latest is None:
        latest = emulator_shapes.intent_charge_before_2022_11_15(obj)
    error = obj.get("last_payment_error") or {}
    return IntentInfo(
        id=obj["id"],
        status=obj["status"],
        amount=obj["amount"],
        currency=obj["currency"].upper(),
        customer_id=_id(obj.get("customer")),
        charge_id=_id(latest),
        client_secret=obj.get("client_secret"),
        metadata=dict(obj.get("metadata") or {}),
        error_message=_reader_message(error),
        charge=charge_from_object(latest) if isinstance(latest, dict) else None,
        error_code=error.get("code"),
        card_fingerprint=_card_fingerprint(error.get("payment_method")),
    )


def charge_from_object(obj: dict) -> ChargeInfo:
    _required(obj, "id", "amount", "currency", "created")
    transaction = obj.get("balance_transaction")
    billing = obj.get("billing_details") or {}
    has_fee = isinstance(transaction, dict) and transaction.get("fee") is not None
    return ChargeInfo(
        id=obj["id"],
        payment_intent_id=_id(obj.get("payment_intent")),
        amount=obj["amount"],
        currency=obj["currency"].upper(),
        created=timestamp(obj["created"]),
        amount_refunded=obj.get("amount_refunded") or 0,
        email=billing.get("email") or obj.get("receipt_email"),
        fee=transaction["fee"] if has_fee else None,
        net=transaction.get("net") if has_fee else None,
    )


def refund_from_object(obj: dict) -> RefundInfo:
    _required(obj, "id", "amount", "currency")
    return RefundInfo(
        id=obj["id"],
        charge_id=_id(obj.get("charge")),
        payment_intent_id=_id(obj.get("payment_intent")),
        amount=obj["amount"],
        currency=obj["currency"].upper(),
        status=obj.get("status") or "pending",
        reason=obj.get("reason") or "",
        metadata=dict(obj.get("metadata") or {}),
    )


def _first_item(obj: dict) -> dict:
    items = obj.get("items")
    data = items.get("data") if isinstance(items, dict) else None
    return data[0] if data else {}


def subscription_from_object(obj: dict) -> SubscriptionInfo:
    """A subscription in the current shape (period and price on the item), or with the
    emulator's Plan and period instead."""
    _required(obj, "id", "status", "created")
    item = _first_item(obj)
    price = item.get("price")
    if price:  # a Price: `unit_amount` and `recurring.interval`
        amount = price.get("unit_amount") or 0
        interval = (price.get("recurring") or {}).get("interval") or ""
    else:
        price, amount, interval = emulator_shapes.subscription_plan_instead_of_price(obj, item)
    period_end = item.get("current_period_end")
    if not period_end:
        period_end = emulator_shapes.subscription_period_end_before_2025_03_31(obj)
    period_start = item.get("current_period_start")  # None from the emulator
    return SubscriptionInfo(
        id=obj["id"],
        status=obj["status"],
        customer_id=_id(obj.get("customer")),
        amount=amount * (item.get("quantity") or 1),
        currency=(price.get("currency") or obj.get("currency") or "").upper(),
        interval=interval,
        plan_id=price.get("id"),
        item_id=item.get("id"),
        current_period_end=timestamp(period_end) if period_end else None,
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        canceled_at=timestamp(obj["canceled_at"]) if obj.get("canceled_at") else None,
        ended_at=timestamp(obj["ended_at"]) if obj.get("ended_at") else None,
        latest_invoice_id=_id(obj.get("latest_invoice")),
        created=timestamp(obj["created"]),
        metadata=dict(obj.get("metadata") or {}),
        current_period_start=timestamp(period_start) if period_start else None,
        product_id=_id(price.get("product")),
        default_payment_method_id=_id(obj.get("default_payment_method")),
    )


def _invoice_payment(obj: dict) -> dict:
    """The invoice payment that counts: the paid one, else the default, else the newest open.

    Canceled attempts never count. Empty when the invoice's payments were not
    included (webhooks leave them out: read the invoice back with them).
    """
    listed = (obj.get("payments") or {}).get("data") or []
    candidates = [
        (payment.get("status") == "paid", bool(payment.get("is_default")), position, payment)
        for position, payment in enumerate(listed)
        if payment.get("status") != "canceled"
    ]
    return max(candidates, key=lambda ranked: ranked[:3])[3] if candidates else {}


def invoice_from_object(obj: dict) -> InvoiceInfo:
    """An invoice in the current shape (`parent`, `payments`), or the emulator's older one."""
    _required(obj, "id", "status", "amount_paid", "amount_due", "currency", "created")
    parent = obj.get("parent") or {}
    details = parent.get("subscription_details") or {}
    payment = _invoice_payment(obj).get("payment") or {}
    older = emulator_shapes.invoice_field_before_2025_03_31  # its top-level fields
    payment_intent = payment.get("payment_intent") or older(obj, "payment_intent")
    charge = payment.get("charge") or older(obj, "charge")
    transitions = obj.get("status_transitions") or {}
    period_ends = [
        line["period"]["end"]
        for line in ((obj.get("lines") or {}).get("data") or [])
        if (line.get("period") or {}).get("end")
    ]
    return InvoiceInfo(
        id=obj["id"],
        status=obj["status"] or "",
        customer_id=_id(obj.get("customer")),
        subscription_id=_id(details.get("subscription") or older(obj, "subscription")),
        payment_intent_id=_id(payment_intent),
        charge_id=_id(charge),
        payments_included=isinstance(obj.get("payments"), dict),
        amount_paid=obj["amount_paid"] or 0,
        amount_due=obj["amount_due"] or 0,
        currency=(obj["currency"] or "").upper(),
        billing_reason=obj.get("billing_reason") or "",
        period_end=timestamp(max(period_ends)) if period_ends else None,
        paid_at=timestamp(transitions["paid_at"]) if transitions.get("paid_at") else None,
        created=timestamp(obj["created"]),
        subscription_metadata=dict(details.get("metadata") or {}),
    )


def _is_proration(line: dict) -> bool:
    """A line for part of a period (`parent.*_details.proration` in the current shape)."""
    parent = line.get("parent") or {}
    details = parent.get(parent.get("type") or "") or {}
    return bool(details.get("proration"))


def preview_from_invoice(obj: dict) -> ChangePreview:
    """An invoice preview (`invoices.create_preview`) read as the change's prices."""
    _required(obj, "amount_due", "total", "currency", "lines")
    lines = (obj.get("lines") or {}).get("data") or []
    prorations = [line.get("amount") or 0 for line in lines if _is_proration(line)]
    period_ends = [line["period"]["end"] for line in lines if (line.get("period") or {}).get("end")]
    return ChangePreview(
        amount_due=obj["amount_due"] or 0,
        total=obj["total"] or 0,
        currency=(obj["currency"] or "").upper(),
        credit=-sum(amount for amount in prorations if amount < 0),
        prorated_charge=sum(amount for amount in prorations if amount > 0),
        period_end=timestamp(max(period_ends)) if period_ends else None,
    )


def dispute_from_object(obj: dict) -> DisputeInfo:
    _required(obj, "id", "status", "amount", "currency", "created")
    return DisputeInfo(
        id=obj["id"],
        charge_id=_id(obj.get("charge")),
        payment_intent_id=_id(obj.get("payment_intent")),
        amount=obj["amount"],
        currency=obj["currency"].upper(),
        status=obj["status"],
        reason=obj.get("reason") or "",
        created=timestamp(obj["created"]),
    )
