"""Stripe calls that change something at Stripe: customers, cards, payments, plans,
subscriptions, invoices, refunds, webhook endpoints.

Every write goes through `_write`, with an idempotency key the caller derives
from our own record, so a retried request (after a timeout, a double click, a
task run twice) happens once at Stripe.
"""

from collections.abc import Iterable

from django.conf import settings

from payments.stripe_gateway.errors import (
    GENERIC_MESSAGE,
    GatewayError,
    GatewayUnavailable,
    ObjectNotFound,
)
from payments.stripe_gateway.objects import (
    IntentInfo,
    InvoiceInfo,
    RefundInfo,
    SetupIntentInfo,
    SubscriptionInfo,
)
from payments.stripe_gateway.parsing import (
    _id,
    intent_from_object,
    invoice_from_object,
    refund_from_object,
    setup_intent_from_object,
    subscription_from_object,
)
from payments.stripe_gateway.reads import retrieve_payment_intent, retrieve_setup_intent
from payments.stripe_gateway.transport import _call, _retrieve_or_none, _write, client


def create_customer(*, email: str, name: str, idempotency_key: str) -> str:
    """Create a Stripe Customer and return its id."""
    customer = _write(
        client().v1.customers.create,
        params={"email": email, "name": name} if name else {"email": email},
        idempotency_key=idempotency_key,
    )
    return customer.id


def delete_customer(customer_id: str, *, idempotency_key: str) -> None:
    """Delete a Stripe Customer (a data-protection erasure): Stripe then drops its
    email, name and cards and cancels whatever still runs on it. Charges, invoices
    and refunds stay in Stripe's books under their ids, as they do in our ledger.

    Deleting one that is already gone (Stripe answers 404) is success: erasure is
    safe to run again.
    """
    try:
        _write(client().v1.customers.delete, customer_id, idempotency_key=idempotency_key)
    except ObjectNotFound:
        return


def create_setup_intent(
    *, customer_id: str, metadata: dict[str, str], usage: str, idempotency_key: str
) -> SetupIntentInfo:
    """A SetupIntent the browser confirms with the card (Stripe.js `confirmCardSetup`).

    `usage` is "off_session" for a card that renewals will charge while the
    member is away (so the bank authenticates it for that now), "on_session"
    for a card charged while the reader is on the page.
    """
    intent = _write(
        client().v1.setup_intents.create,
        params={
            "customer": customer_id,
            "usage": usage,
            "allowed_payment_method_types": ["card"],
            "metadata": metadata,
        },
        idempotency_key=idempotency_key,
    )
    return setup_intent_from_object(intent.to_dict())


# What Stripe refuses to cancel because nothing is left to confirm on it.
SETUP_INTENT_FINAL = ("canceled", "succeeded")
PAYMENT_INTENT_FINAL = ("canceled", "succeeded", "processing")


def cancel_setup_intent(setup_intent_id: str, *, idempotency_key: str) -> SetupIntentInfo | None:
    """Cancel a SetupIntent so its client secret can no longer be confirmed (a start
    that used up its card attempts, or whose source is blocked for card testing).

    One that already succeeded or was canceled is read back instead (Stripe refuses
    to cancel it, and nothing can be confirmed on it any more); one Stripe does not
    have (404) is None.
    """
    try:
        intent = _write(
            client().v1.setup_intents.cancel, setup_intent_id, idempotency_key=idempotency_key
        )
    except ObjectNotFound:
        return None
    except GatewayUnavailable:
        raise
    except GatewayError:
        current = retrieve_setup_intent(setup_intent_id)
        if current.status not in SETUP_INTENT_FINAL:
            raise
        return current
    return setup_intent_from_object(intent.to_dict())


def cancel_payment_intent(payment_intent_id: str, *, idempotency_key: str) -> IntentInfo | None:
    """Cancel a PaymentIntent so its client secret (handed out for 3-D Secure) cannot be
    confirmed with another card. One already final (succeeded, processing, canceled) is
    read back instead; one Stripe does not have (404) is None."""
    try:
        intent = _write(
            client().v1.payment_intents.cancel, payment_intent_id, idempotency_key=idempotency_key
        )
    except ObjectNotFound:
        return None
    except GatewayUnavailable:
        raise
    except GatewayError:
        current = retrieve_payment_intent(payment_intent_id)
        if current.status not in PAYMENT_INTENT_FINAL:
            raise
        return current
    return intent_from_object(intent.to_dict())


def create_payment_intent(
    *,
    amount: int,
    currency: str,
    customer_id: str,
    payment_method_id: str,
    metadata: dict[str, str],
    idempotency_key: str,
) -> IntentInfo:
    """Charge the card now (server-side confirmation).

    Raises CardDeclined when the card is refused. A 3-D Secure challenge comes
    back as status `requires_action`, for Stripe.js `confirmCardPayment`.
    """
    intent = _write(
        client().v1.payment_intents.create,
        params={
            "amount": amount,
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "allowed_payment_method_types": ["card"],
            "confirm": True,
            "metadata": metadata,
        },
        idempotency_key=idempotency_key,
        charges=True,
    )
    return intent_from_object(intent.to_dict())


def plan_id_for(amount: int, currency: str, interval: str) -> str:
    """Our Plan per amount, currency and interval: created once, shared by all members."""
    return f"patronage-membership-{interval}-{currency.lower()}-{amount}"


MAX_PLAN_REVISIONS = 20


def ensure_plan(*, amount: int, currency: str, interval: str, product_name: str) -> str:
    """The active Plan for this price, created on first use (a Plan id is also a valid
    Price id). A plan archived in Stripe's dashboard cannot take new subscriptions, so
    the next revision of its id (`...-r2`, `-r3`) is used or created instead."""
    base = plan_id_for(amount, currency, interval)
    for revision in range(1, MAX_PLAN_REVISIONS + 1):
        plan_id = base if revision == 1 else f"{base}-r{revision}"
        plan = _retrieve_or_none(client().v1.plans.retrieve, plan_id)
        if plan is None:
            try:
                plan = _write(
                    client().v1.plans.create,
                    params={
                        "id": plan_id,
                        "amount": amount,
                        "currency": currency.lower(),
                        "interval": interval,
                        "product": {"name": product_name},
                    },
                    idempotency_key=f"plan-{plan_id}",
                )
            except GatewayError:  # created at the same moment by another request?
                plan = _retrieve_or_none(client().v1.plans.retrieve, plan_id)
                if plan is None:
                    raise
        if plan.to_dict().get("active", True):
            return plan_id
    raise GatewayError(GENERIC_MESSAGE, detail=f"every revision of plan {base} is archived")


def attach_payment_method(
    *, customer_id: str, payment_method_id: str, idempotency_key: str
) -> None:
    """Attach the card to the customer, if it is not yet (its defaults stay as they are)."""
    method = _call(client().v1.payment_methods.retrieve, payment_method_id).to_dict()
    if _id(method.get("customer")) != customer_id:
        _write(
            client().v1.payment_methods.attach,
            payment_method_id,
            params={"customer": customer_id},
            idempotency_key=f"{idempotency_key}-attach",
        )


def set_default_payment_method(
    *, customer_id: str, payment_method_id: str, idempotency_key: str
) -> None:
    """Attach the card to the customer (if not yet) and make it the customer's default."""
    attach_payment_method(
        customer_id=customer_id,
        payment_method_id=payment_method_id,
        idempotency_key=idempotency_key,
    )
    _write(
        client().v1.customers.update,
        customer_id,
        params={"invoice_settings": {"default_payment_method": payment_method_id}},
        idempotency_key=idempotency_key,
    )


def set_subscription_payment_method(
    *, subscription_id: str, payment_method_id: str, idempotency_key: str
) -> None:
    """Charge the subscription's invoices to this card (before the customer's default)."""
    _write(
        client().v1.subscriptions.update,
        subscription_id,
        params={"default_payment_method": payment_method_id},
        idempotency_key=idempotency_key,
        charges=True,
    )


def create_subscription(
    *,
    customer_id: str,
    plan_id: str,
    payment_method_id: str,
    metadata: dict[str, str],
    idempotency_key: str,
) -> SubscriptionInfo:
    """Subscribe the customer, charging the subscription's invoices (the first one now) to
    `payment_method_id`, the subscription's own card: a customer may pay for more than
    one membership, and a guest's card never becomes a member's default.

    Status `incomplete` means that first payment did not go through: the bank wants
    3-D Secure, or declined the card. The latest invoice's PaymentIntent says which
    (`retrieve_invoice(...).payment_intent_id`, then `retrieve_payment_intent`).
    """
    subscription = _write(
        client().v1.subscriptions.create,
        params={
            "customer": customer_id,
            "items": [{"plan": plan_id}],
            "default_payment_method": payment_method_id,
            "metadata": metadata,
            "payment_behavior": "allow_incomplete",
        },
        idempotency_key=idempotency_key,
        charges=True,
    )
    return subscription_from_object(subscription.to_dict())


def change_subscription_plan(
    *,
    subscription_id: str,
    item_id: str,
    plan_id: str,
    proration_behavior: str,
    proration_date: int | None = None,
    idempotency_key: str,
) -> SubscriptionInfo:
    """Move to another amount or interval.

    `proration_behavior` "create_prorations" credits the unused time of the old price
    (for an amount change, with the rest of the period at the new price, on the next
    invoice); "none" credits nothing. A new interval restarts the billing period now
    and is invoiced at once either way (Stripe resets the billing cycle anchor itself,
    so none is sent). `proration_date` makes the prorations the ones previewed then.
    """
    params: dict = {
        "items": [{"id": item_id, "plan": plan_id}],
        "proration_behavior": proration_behavior,
    }
    if proration_date is not None and proration_behavior != "none":
        params["proration_date"] = proration_date
    subscription = _write(
        client().v1.subscriptions.update,
        subscription_id,
        params=params,
        idempotency_key=idempotency_key,
    )
    return subscription_from_object(subscription.to_dict())


def set_cancel_at_period_end(
    subscription_id: str, cancel: bool, *, idempotency_key: str
) -> SubscriptionInfo:
    subscription = _write(
        client().v1.subscriptions.update,
        subscription_id,
        params={"cancel_at_period_end": cancel},
        idempotency_key=idempotency_key,
    )
    return subscription_from_object(subscription.to_dict())


def cancel_subscription(subscription_id: str, *, idempotency_key: str) -> SubscriptionInfo:
    """End it now. Ending one that has already ended reads it back instead."""
    try:
        subscription = _write(
            client().v1.subscriptions.cancel, subscription_id, idempotency_key=idempotency_key
        )
    except GatewayError:
        subscription = _call(client().v1.subscriptions.retrieve, subscription_id)
        if subscription.to_dict().get("status") not in ("canceled", "incomplete_expired"):
            raise
    return subscription_from_object(subscription.to_dict())


def pay_invoice(invoice_id: str, *, off_session: bool, idempotency_key: str) -> InvoiceInfo:
    """Try an open invoice again now (after the member updated their card).

    `off_session=False` when the member is on the page: a bank that wants
    3-D Secure then leaves the PaymentIntent `requires_action` for Stripe.js
    instead of declining.
    """
    invoice = _write(
        client().v1.invoices.pay,
        invoice_id,
        params={"off_session": off_session},
        idempotency_key=idempotency_key,
        charges=True,
    )
    return invoice_from_object(invoice.to_dict())


def create_refund(
    *,
    payment_intent_id: str | None,
    charge_id: str | None = None,
    amount: int,
    metadata: dict[str, str],
    idempotency_key: str,
    reason: str = "",
) -> RefundInfo:
    """Give back `amount` of a payment (by its PaymentIntent, or its charge if it has none).

    `reason` is one of Stripe's: duplicate, fraudulent (also blocks the card and email
    in Radar), requested_by_customer; empty sends none."""
    target = {"payment_intent": payment_intent_id} if payment_intent_id else {"charge": charge_id}
    params = {**target, "amount": amount, "metadata": metadata}
    if reason:
        params["reason"] = reason
    refund = _write(client().v1.refunds.create, params=params, idempotency_key=idempotency_key)
    return refund_from_object(refund.to_dict())


def create_webhook_endpoint(*, url: str, events: Iterable[str]) -> tuple[str, str]:
    """Register our webhook endpoint with Stripe, in our API version and for the event
    types we act on. Returns its id and signing secret (shown by Stripe only now)."""
    endpoint = _write(
        client().v1.webhook_endpoints.create,
        params={
            "url": url,
            "enabled_events": sorted(set(events)),
            "api_version": settings.STRIPE_API_VERSION,
            "description": "Patronage",
        },
        idempotency_key=f"webhook-endpoint-{url}",
    ).to_dict()
    return endpoint["id"], endpoint.get("secret") or ""
