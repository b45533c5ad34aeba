"""Stripe events for the bench, made and signed beforehand as Stripe makes and signs them.

A one-time gift succeeding is `payment_intent.succeeded` in the shape of the API version
the project pins (tests/support/stripe_payloads.py): `latest_charge` is the charge's id,
not the charge, so the handler reads the charge (and its fee) from Stripe.

Signatures follow Stripe's scheme, `Stripe-Signature: t=<unix time>,v1=<hex
HMAC-SHA256(secret, "<t>.<body>")>`, and the endpoint refuses a signature older than
STRIPE_WEBHOOK_TOLERANCE (300 s): events are signed just before they are sent.

For wrk (whose Lua cannot compute an HMAC) the signed events are written one per line,
`<signature>\\t<body>` (JSON has no raw tab or newline), and bench/ingest.lua gives each
wrk thread its own slice of the lines.
"""

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.support import stripe_payloads as payloads
from tests.support.webhooks import sign

META_DONATION, META_KIND = "patronage_donation", "patronage_kind"  # payments.services.ledger


@dataclass(frozen=True)
class Gift:
    """A gift stored in the bench's database and paid at the emulator."""

    public_id: str
    intent_id: str
    charge_id: str
    amount: int
    currency: str  # upper case, as the site stores it
    customer_id: str | None = None
    kind: str = "one_time"


def gift_succeeded(gift: Gift, *, created: int | None = None) -> dict:
    """The `payment_intent.succeeded` event Stripe sends when the gift's payment succeeds."""
    intent = payloads.payment_intent(
        id=gift.intent_id,
        amount=gift.amount,
        currency=gift.currency.lower(),
        customer=gift.customer_id,
        latest_charge=gift.charge_id,
        metadata={META_DONATION: gift.public_id, META_KIND: gift.kind},
        created=created,
    )
    return payloads.event("payment_intent.succeeded", intent, created=created)


def unknown_gift_succeeded() -> dict:
    """A realistic event naming a gift this site never stored (for ingest alone)."""
    gift = Gift(
        public_id=payloads.new_id("don"),
        intent_id=payloads.new_id("pi"),
        charge_id=payloads.new_id("ch"),
        amount=2500,
        currency="EUR",
    )
    return gift_succeeded(gift)


def signed(event: dict, secret: str, timestamp: int | None = None) -> tuple[str, bytes]:
    """(Stripe-Signature header, body) of one delivery of `event`."""
    body = json.dumps(event, separators=(",", ":")).encode()
    return sign(body, secret, int(time.time()) if timestamp is None else timestamp), body


def signed_lines(events: Iterable[dict], secret: str, timestamp: int | None = None) -> list[str]:
    """One `<signature>\\t<body>` line per event, all signed at `timestamp` (default now)."""
    at = int(time.time()) if timestamp is None else timestamp
    lines = []
    for event in events:
        header, body = signed(event, secret, at)
        lines.append(f"{header}\t{body.decode()}")
    return lines


def write_signed(path: Path, events: Iterable[dict], secret: str) -> int:
    """Sign `events` now and write them for bench/ingest.lua; returns how many."""
    lines = signed_lines(events, secret)
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def read_signed(line: str) -> tuple[str, bytes]:
    """(signature, body) from one written line."""
    header, _, body = line.rstrip("\n").partition("\t")
    return header, body.encode()
