"""Checking a webhook from Stripe: its signature and timestamp, and that its body is a
well-formed event we can store. (The endpoint that receives it is `payments/webhooks.py`.)
"""

import json
import time
from typing import Any

import stripe
from django.conf import settings

from payments.stripe_gateway.errors import InvalidWebhook

# Bounds of what a genuine event holds, so a signed but malformed body is a clear
# 400 and never reaches the database (where it would be a 500).
MAX_EVENT_ID_LENGTH = 255  # StripeEvent.stripe_id
MAX_EVENT_TYPE_LENGTH = 100  # StripeEvent.type
MAX_API_VERSION_LENGTH = 50  # StripeEvent.api_version
LATEST_EVENT_TIME = 2**32  # seconds since 1970: year 2106
MAX_EVENT_DEPTH = 64  # Stripe's objects nest about ten levels


def _signed_at(signature_header: str) -> int | None:
    """The time the Stripe-Signature header says it was signed at (`t=`), or None."""
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
