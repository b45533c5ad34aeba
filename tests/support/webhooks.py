"""Stripe webhook deliveries made the way Stripe makes them: a JSON body and a
`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` header.

Tests sign with the project's STRIPE_WEBHOOK_SECRET unless told otherwise, so
the endpoint's real verification runs; nothing is mocked.
"""

import hashlib
import hmac
import json
import time

from django.conf import settings
from django.urls import reverse


def webhook_path() -> str:
    return reverse("payments:stripe_webhook")


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send with `payload`."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def signed(
    event: dict, *, secret: str | None = None, timestamp: int | None = None
) -> tuple[bytes, str]:
    """The body and signature header of one delivery of `event`."""
    body = json.dumps(event).encode()
    return body, sign(body, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp)


def post_raw(client, body: bytes, header: str | None):
    """POST `body` as it is, with `header` as Stripe-Signature (None: no header at all)."""
    headers = {} if header is None else {"Stripe-Signature": header}
    return client.post(webhook_path(), body, content_type="application/json", headers=headers)


def post_event(
    client,
    event: dict,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    signature: str | None = None,
):
    """Deliver `event` to the endpoint through a Django test client; returns the response.

    `signature` replaces the computed header (a forged one, say); `secret` and
    `timestamp` sign with another secret or at another time.
    """
    body, header = signed(event, secret=secret, timestamp=timestamp)
    return post_raw(client, body, header if signature is None else signature)
