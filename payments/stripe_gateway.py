"""The one module that talks to Stripe.

Everything else in the project speaks of gifts, members and charges and calls
the functions here, which return plain values. Point STRIPE_API_BASE at
localstripe to run offline.
"""

from functools import cache

import stripe
from django.conf import settings


@cache
def _client(secret_key: str, api_base: str, timeout: int, retries: int) -> stripe.StripeClient:
    base_addresses = {"api": api_base} if api_base else {}
    return stripe.StripeClient(
        secret_key,
        base_addresses=base_addresses,  # type: ignore[arg-type]
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def client() -> stripe.StripeClient:
    """The Stripe client configured from settings (cached per configuration)."""
    return _client(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        settings.STRIPE_TIMEOUT,
        settings.STRIPE_MAX_NETWORK_RETRIES,
    )


def create_customer(*, email: str, name: str, idempotency_key: str) -> str:
    """Create a Stripe Customer and return its id."""
    customer = client().v1.customers.create(
        params={"email": email, "name": name},
        options={"idempotency_key": idempotency_key},
    )
    return customer.id
