"""The card a payment page entered (Stripe.js `createPaymentMethod`), as our server
takes it for a gift, a gift membership or a join: checked before it is tried, and
charged for one payment at a time."""

import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache

from config.errors import Refused
from payments import card_testing
from payments import stripe_gateway as gateway

_PAYMENT_METHOD_ID = re.compile(r"(pm|card)_[A-Za-z0-9]{1,250}")


def entered_card(payment_method_id: str) -> gateway.PaymentMethodInfo:
    """The card the page sent, if it may be tried: Stripe knows it, and it is not blocked
    for card testing. Refused (on the card field) otherwise."""
    if not payment_method_id:
        raise Refused("Please enter your card details.", field="card")
    if not _PAYMENT_METHOD_ID.fullmatch(payment_method_id):
        raise Refused("Please enter your card details again.", field="card")
    try:
        card = gateway.retrieve_payment_method(payment_method_id)
    except gateway.ObjectNotFound:
        raise Refused("Please enter your card details again.", field="card") from None
    if card_testing.active_block(card=card.card_fingerprint):
        raise Refused(card_testing.CARD_BLOCKED, field="card")
    return card


CARD_IN_FLIGHT_SECONDS = 120  # longer than a Stripe call with its retries


@contextmanager
def one_card_at_a_time(payment: str, card_id: str) -> Iterator[None]:
    """Charge one payment (`payment` names it) with one card at a time.

    The same card sent twice at once (a double click) goes on: the attempt's
    idempotency key makes it one charge. Another card sent while one is being charged
    is refused, since its request differs and Stripe would charge both. Held in the
    cache (shared by every web process), never in a transaction across a Stripe call.
    """
    key = f"card-in-flight:{payment}"
    claimed = cache.add(key, card_id, CARD_IN_FLIGHT_SECONDS)
    if not claimed and cache.get(key) != card_id:
        raise Refused(
            "Your payment is already being made with another card. "
            "Please wait a moment, then check your email or try again.",
            field="card",
        )
    try:
        yield
    finally:
        if claimed:  # the request that claimed it lets it go
            cache.delete(key)
