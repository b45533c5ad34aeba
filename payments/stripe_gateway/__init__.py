"""Talking to Stripe: this package is the only place that imports `stripe`.

Everything else speaks of donors, gifts and charges, calls the functions
exported here (`from payments import stripe_gateway as gateway`), and gets
back our own small dataclasses and exceptions, never a Stripe object or
error. Every write carries an idempotency key that the caller derives from
our own record, so a retried request never charges twice. Point
STRIPE_API_BASE at localstripe to run offline.

- `transport.py`: the client, idempotency keys, retries, Stripe's errors into ours
- `errors.py`: the exceptions callers catch, and the messages a reader may see
- `reads.py`, `writes.py`: the calls to Stripe, reading or changing something there
- `objects.py`: the dataclasses they return; `parsing.py` builds them from
  Stripe's objects in the pinned API version's shape
- `emulator_shapes.py`: the older shapes localstripe answers with, read only as
  a fallback, and EMULATOR_ONLY_FIELDS
- `webhook_verification.py`: `verify_webhook`, for the endpoint in payments/webhooks.py
- `dashboard_links.py`: `dashboard_url`, an object's page in Stripe's dashboard (admin)
"""

from payments.stripe_gateway.dashboard_links import dashboard_url
from payments.stripe_gateway.emulator_shapes import EMULATOR_ONLY_FIELDS
from payments.stripe_gateway.errors import (
    CARD_MESSAGES,
    GENERIC_MESSAGE,
    OUTCOME_UNKNOWN_MESSAGE,
    UNAVAILABLE_MESSAGE,
    CardDeclined,
    GatewayError,
    GatewayUnavailable,
    InvalidWebhook,
    ObjectNotFound,
    OutcomeUnknown,
    UnreadableObject,
    card_message,
    staff_message,
)
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
from payments.stripe_gateway.parsing import (
    charge_from_object,
    dispute_from_object,
    intent_from_object,
    invoice_from_object,
    payment_method_from_object,
    preview_from_invoice,
    refund_from_object,
    setup_intent_from_object,
    subscription_from_object,
    timestamp,
)
from payments.stripe_gateway.reads import (
    EVENT_RETENTION,
    find_subscription,
    invoice_id_for_payment_intent,
    list_events,
    list_refunds,
    list_succeeded_charges,
    preview_subscription_change,
    retrieve_charge,
    retrieve_invoice,
    retrieve_payment_intent,
    retrieve_payment_method,
    retrieve_setup_intent,
    retrieve_subscription,
)
from payments.stripe_gateway.transport import _call as _call  # tests/payments/test_real_stripe.py
from payments.stripe_gateway.transport import client
from payments.stripe_gateway.webhook_verification import verify_webhook
from payments.stripe_gateway.writes import (
    attach_payment_method,
    cancel_payment_intent,
    cancel_setup_intent,
    cancel_subscription,
    change_subscription_plan,
    create_customer,
    create_payment_intent,
    create_refund,
    create_setup_intent,
    create_subscription,
    create_webhook_endpoint,
    delete_customer,
    ensure_plan,
    pay_invoice,
    plan_id_for,
    set_cancel_at_period_end,
    set_default_payment_method,
    set_subscription_payment_method,
)

__all__ = [
    "CARD_MESSAGES",
    "EMULATOR_ONLY_FIELDS",
    "EVENT_RETENTION",
    "GENERIC_MESSAGE",
    "OUTCOME_UNKNOWN_MESSAGE",
    "UNAVAILABLE_MESSAGE",
    "CardDeclined",
    "CardInfo",
    "ChangePreview",
    "ChargeInfo",
    "DisputeInfo",
    "GatewayError",
    "GatewayUnavailable",
    "IntentInfo",
    "InvalidWebhook",
    "InvoiceInfo",
    "ObjectNotFound",
    "OutcomeUnknown",
    "PaymentMethodInfo",
    "RefundInfo",
    "SetupIntentInfo",
    "SubscriptionInfo",
    "UnreadableObject",
    "attach_payment_method",
    "cancel_payment_intent",
    "cancel_setup_intent",
    "cancel_subscription",
    "card_message",
    "change_subscription_plan",
    "charge_from_object",
    "client",
    "create_customer",
    "create_payment_intent",
    "create_refund",
    "create_setup_intent",
    "create_subscription",
    "create_webhook_endpoint",
    "dashboard_url",
    "delete_customer",
    "dispute_from_object",
    "ensure_plan",
    "find_subscription",
    "intent_from_object",
    "invoice_from_object",
    "invoice_id_for_payment_intent",
    "list_events",
    "list_refunds",
    "list_succeeded_charges",
    "pay_invoice",
    "payment_method_from_object",
    "plan_id_for",
    "preview_from_invoice",
    "preview_subscription_change",
    "refund_from_object",
    "retrieve_charge",
    "retrieve_invoice",
    "retrieve_payment_intent",
    "retrieve_payment_method",
    "retrieve_setup_intent",
    "retrieve_subscription",
    "set_cancel_at_period_end",
    "set_default_payment_method",
    "set_subscription_payment_method",
    "setup_intent_from_object",
    "staff_message",
    "subscription_from_object",
    "timestamp",
    "verify_webhook",
]
