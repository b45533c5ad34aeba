"""The one module that talks to Stripe.

Everything else speaks of donors, gifts and charges and calls the functions
here, which return small dataclasses. Every write carries an idempotency key
that the caller derives from our own record, so a retried request never
charges twice; network errors and 5xx answers are retried by the Stripe
client with backoff and the same key.

Objects are read in the current API shape and also in the older shape that
localstripe answers with (`payment_intent.charges`, expanded `latest_charge`,
`invoice.payment_intent`, ...). Point STRIPE_API_BASE at localstripe to run offline.
"""

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = (
    "We could not reach our card processor. You have not been charged; "
    "please try again in a minute."
)
GENERIC_MESSAGE = "Your payment could not be processed. You have not been charged."


class GatewayError(Exception):
    """Stripe refused or could not be reached.

    `user_message` is safe to show a reader; `detail` is the cause for staff and
    logs (Stripe's error type, HTTP status, code and message).
    """

    def __init__(
        self, user_message: str, *, payment_intent_id: str | None = None, detail: str = ""
    ) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.payment_intent_id = payment_intent_id
        self.detail = detail or user_message


class CardDeclined(GatewayError):
    """The card was refused (declined, expired, wrong CVC...): the reader may try another."""


class GatewayUnavailable(GatewayError):
    """Stripe did not answer, or answered 5xx, even after retries."""


class ObjectNotFound(GatewayError):
    """Stripe has no such object for our account (404): deleted test data, another
    account's (Connect) object, or one that was never ours."""


class UnreadableObject(Exception):
    """A Stripe object lacks a field this API version always has: it is in a shape
    we cannot read (an old API version), so nothing is written from it."""


class InvalidWebhook(Exception):
    """A webhook whose signature, timestamp or body is not acceptable."""


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


# --- The client ----------------------------------------------------------------


@cache
def _client(
    secret_key: str, api_base: str, api_version: str, timeout: int, retries: int
) -> stripe.StripeClient:
    base_addresses = {"api": api_base} if api_base else {}
    return stripe.StripeClient(
        secret_key,
        stripe_version=api_version,
        base_addresses=base_addresses,  # type: ignore[arg-type]
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def client() -> stripe.StripeClient:
    """The Stripe client configured from settings (cached per configuration)."""
    return _client(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        settings.STRIPE_API_VERSION,
        settings.STRIPE_TIMEOUT,
        settings.STRIPE_MAX_NETWORK_RETRIES,
    )


def _detail(exc: stripe.StripeError) -> str:
    code = getattr(exc, "code", None) or ""
    return f"{type(exc).__name__} {exc.http_status or '-'} {code}: {exc.user_message or exc}"


_EMAIL = re.compile(r"[^\s@'\"<>(),:;]+@[^\s@'\"<>(),:;]+")


def _without_emails(text: str) -> str:
    """Stripe's error messages may quote a parameter back ("Invalid email address:
    ..."): no donor's address goes to the logs."""
    return _EMAIL.sub("[email]", text)


def _call(method, *args, **kwargs):
    """Call the Stripe client and turn its errors into ours."""
    try:
        return method(*args, **kwargs)
    except stripe.CardError as exc:
        intent = exc.error.payment_intent if exc.error else None
        raise CardDeclined(
            exc.user_message or "Your card was declined.",
            payment_intent_id=_id(intent),
            detail=_detail(exc),
        ) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        logger.warning("Stripe unreachable: %s", exc)
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE, detail=_detail(exc)) from exc
    except stripe.APIError as exc:
        logger.warning("Stripe server error: %s", exc)
        raise GatewayUnavailable(UNAVAILABLE_MESSAGE, detail=_detail(exc)) from exc
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            raise ObjectNotFound(GENERIC_MESSAGE, detail=_detail(exc)) from exc
        logger.error("Stripe refused a request: %s", _without_emails(str(exc)))
        raise GatewayError(GENERIC_MESSAGE, detail=_detail(exc)) from exc
    except stripe.StripeError as exc:
        logger.error("Stripe refused a request: %s", _without_emails(str(exc)))
        raise GatewayError(GENERIC_MESSAGE, detail=_detail(exc)) from exc


def _write(method, *args, params: dict[str, Any] | None = None, idempotency_key: str):
    """A Stripe write, with an idempotency key that can only ever go with these parameters.

    The caller's key names the operation on our record (so a retry after a
    timeout or a double click reaches Stripe with the same key and happens
    once). A digest of the endpoint and parameters is appended: Stripe refuses
    a key reused with other parameters for 24 hours, and with the digest a
    changed request (another amount, a corrected name) is a new request
    rather than a reader stuck behind an `idempotency_error`.
    """
    fingerprint = json.dumps(
        [getattr(method, "__qualname__", repr(method)), args, params or {}],
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    options = {"idempotency_key": f"{idempotency_key}-{digest}"}
    if params is None:
        return _call(method, *args, options=options)
    return _call(method, *args, params=params, options=options)


def _retrieve_or_none(method, object_id: str):
    """The object, or None when Stripe says it does not exist."""
    try:
        return _call(method, object_id)
    except ObjectNotFound:
        return None


# --- Writes --------------------------------------------------------------------


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


def retrieve_setup_intent(setup_intent_id: str) -> SetupIntentInfo:
    """The SetupIntent with its card expanded, so the card's fingerprint is known."""
    intent = _call(
        client().v1.setup_intents.retrieve,
        setup_intent_id,
        params={"expand": ["payment_method"]},
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


def set_default_payment_method(
    *, customer_id: str, payment_method_id: str, idempotency_key: str
) -> None:
    """Attach the card to the customer (if not yet) and charge renewals to it."""
    method = _call(client().v1.payment_methods.retrieve, payment_method_id).to_dict()
    if _id(method.get("customer")) != customer_id:
        _write(
            client().v1.payment_methods.attach,
            payment_method_id,
            params={"customer": customer_id},
            idempotency_key=f"{idempotency_key}-attach",
        )
    _write(
        client().v1.customers.update,
        customer_id,
        params={"invoice_settings": {"default_payment_method": payment_method_id}},
        idempotency_key=idempotency_key,
    )


def create_subscription(
    *, customer_id: str, plan_id: str, metadata: dict[str, str], idempotency_key: str
) -> SubscriptionInfo:
    """Subscribe the customer; the first invoice is charged to their default card now.

    Status `incomplete` means the bank wants 3-D Secure: see `invoice_payment_intent`.
    """
    subscription = _write(
        client().v1.subscriptions.create,
        params={
            "customer": customer_id,
            "items": [{"plan": plan_id}],
            "metadata": metadata,
            "payment_behavior": "allow_incomplete",
        },
        idempotency_key=idempotency_key,
    )
    return subscription_from_object(subscription.to_dict())


def change_subscription_plan(
    *, subscription_id: str, item_id: str, plan_id: str, idempotency_key: str
) -> SubscriptionInfo:
    """Move to another amount or interval from the next charge on (no proration)."""
    subscription = _write(
        client().v1.subscriptions.update,
        subscription_id,
        params={
            "items": [{"id": item_id, "plan": plan_id}],
            "proration_behavior": "none",
        },
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
    )
    return invoice_from_object(invoice.to_dict())


def create_refund(
    *,
    payment_intent_id: str | None,
    charge_id: str | None = None,
    amount: int,
    metadata: dict[str, str],
    idempotency_key: str,
) -> RefundInfo:
    """Give back `amount` of a payment (by its PaymentIntent, or its charge if it has none)."""
    target = {"payment_intent": payment_intent_id} if payment_intent_id else {"charge": charge_id}
    refund = _write(
        client().v1.refunds.create,
        params={**target, "amount": amount, "metadata": metadata},
        idempotency_key=idempotency_key,
    )
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


# --- Reads ---------------------------------------------------------------------


def retrieve_payment_intent(payment_intent_id: str) -> IntentInfo:
    intent = _call(client().v1.payment_intents.retrieve, payment_intent_id)
    return intent_from_object(intent.to_dict())


def retrieve_subscription(subscription_id: str) -> SubscriptionInfo:
    return subscription_from_object(
        _call(client().v1.subscriptions.retrieve, subscription_id).to_dict()
    )


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
    transaction = charge.get("balance_transaction")
    if isinstance(transaction, str):  # an emulator that does not expand
        transaction = _call(client().v1.balance_transactions.retrieve, transaction).to_dict()
    charge["balance_transaction"] = transaction
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


# --- Webhooks ------------------------------------------------------------------


# Bounds of what a genuine event holds, so a signed but malformed body is a clear
# 400 and never reaches the database (where it would be a 500).
MAX_EVENT_ID_LENGTH = 255  # StripeEvent.stripe_id
MAX_EVENT_TYPE_LENGTH = 100  # StripeEvent.type
MAX_API_VERSION_LENGTH = 50  # StripeEvent.api_version
LATEST_EVENT_TIME = 2**32  # seconds since 1970: year 2106
MAX_EVENT_DEPTH = 64  # Stripe's objects nest about ten levels


def _signed_at(signature_header: str) -> int | None:
    for part in signature_header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            return int(value)
    return None


def verify_webhook(payload: bytes, signature_header: str | None) -> dict:
    """Check the Stripe-Signature header and return the event as a dict.

    Raises InvalidWebhook for a missing, wrong, stale or future-dated
    signature, or a body that is not a well-formed JSON event.
    """
    try:
        stripe.WebhookSignature.verify_header(
            payload,
            signature_header,
            settings.STRIPE_WEBHOOK_SECRET,
            settings.STRIPE_WEBHOOK_TOLERANCE,
        )
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook(f"signature: {exc.user_message or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidWebhook("body: not UTF-8") from exc
    signed_at = _signed_at(signature_header or "")
    if signed_at is None or signed_at > time.time() + settings.STRIPE_WEBHOOK_TOLERANCE:
        raise InvalidWebhook("signature: timestamp in the future")
    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidWebhook("body: not JSON") from exc
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise InvalidWebhook("body: not a Stripe event (id, type, created, data.object)")
    if not (
        0 < len(event["id"]) <= MAX_EVENT_ID_LENGTH
        and 0 < len(event["type"]) <= MAX_EVENT_TYPE_LENGTH
        and len(str(event.get("api_version") or "")) <= MAX_API_VERSION_LENGTH
        and 0 < event["created"] < LATEST_EVENT_TIME
    ):
        raise InvalidWebhook("body: id, type, api_version or created out of bounds")
    problem = _malformed(event)
    if problem:
        raise InvalidWebhook(f"body: {problem}")
    return event


def _malformed(value: Any) -> str:
    """Why a parsed event cannot be stored as it is, or "": NUL characters (which
    PostgreSQL refuses) or nesting far deeper than any Stripe object."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_EVENT_DEPTH:
            return "nested too deep"
        if isinstance(item, str):
            if "\x00" in item:
                return "NUL characters"
        elif isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return ""


# Fields the parsers read that the pinned API version no longer has: localstripe
# answers in an older shape, so they are read only as a fallback when the current
# field is absent. tests/test_stripe_fields.py checks every other field read
# against the pinned version's definitions, and that this list stays honest.
EMULATOR_ONLY_FIELDS: dict[str, frozenset[str]] = {
    "payment_intent": frozenset({"charges", "charges.data"}),  # before 2022-11-15
    "invoice": frozenset({"payment_intent", "subscription", "charge"}),  # before 2025-03-31
    "subscription": frozenset({"current_period_end", "plan"}),  # before 2025-03-31
}


def _id(value: Any) -> str | None:
    """An id field that may also come expanded (as a dict or a library object)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        return value.get("id")
    return getattr(value, "id", None) if value is not None else None


def timestamp(seconds: int) -> datetime:
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
        error_message=error.get("message"),
        failed_payment_method_id=_id(failed_method),
    )


def intent_from_object(obj: dict) -> IntentInfo:
    _required(obj, "id", "status", "amount", "currency")
    latest = obj.get("latest_charge")
    if latest is None and isinstance(obj.get("charges"), dict):  # emulator: before 2022-11-15
        charges = obj["charges"].get("data") or []
        latest = charges[0] if charges else None
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
        error_message=error.get("message"),
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
    """A subscription in the current shape (period and price on the item) or the emulator's."""
    _required(obj, "id", "status", "created")
    item = _first_item(obj)
    price = item.get("price")
    if price:  # a Price: `unit_amount` and `recurring.interval`
        amount = price.get("unit_amount") or 0
        interval = (price.get("recurring") or {}).get("interval") or ""
    else:  # a Plan: `amount` and `interval` (the emulator's items, or its top-level plan)
        price = item.get("plan") or obj.get("plan") or {}
        amount = price.get("amount") or 0
        interval = price.get("interval") or ""
    period_end = item.get("current_period_end") or obj.get("current_period_end")
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
    """An invoice in the current shape (`parent`, `payments`) or the emulator's older one."""
    _required(obj, "id", "status", "amount_paid", "amount_due", "currency", "created")
    parent = obj.get("parent") or {}
    details = parent.get("subscription_details") or {}
    payment = _invoice_payment(obj).get("payment") or {}
    payment_intent = payment.get("payment_intent") or obj.get("payment_intent")  # emulator
    charge = payment.get("charge") or obj.get("charge")  # emulator: before 2025-03-31
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
        subscription_id=_id(details.get("subscription") or obj.get("subscription")),
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
