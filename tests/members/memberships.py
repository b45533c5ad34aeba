"""Joining for real through the join page's JSON calls and localstripe, and Stripe's clock.

localstripe never renews on its own: `renew()` does what Stripe does at the end
of a period (a new invoice for the subscription, charged to the default card).
"""

import requests
from django.conf import settings
from django.urls import reverse

from members.models import Membership
from tests.support.processes import wait_until
from tests.support.stripejs import CARD_OK, confirm_card_payment, create_payment_method


def join(client, *, card: str = CARD_OK, **fields) -> Membership:
    """Start a membership as the signed-in `client`, enter the card, subscribe (3-D Secure
    passed if the bank asks)."""
    data = {"amount": "10", "currency": "USD", "interval": "month", **fields}
    response = client.post(reverse("members:join_start"), data)
    assert response.status_code == 200, response.content
    started = response.json()
    card_entered = {"payment_method": create_payment_method(card)}
    outcome = client.post(started["confirmUrl"], card_entered).json()
    if outcome["status"] == "requires_action":
        confirm_card_payment(outcome["clientSecret"])
        outcome = client.post(started["confirmUrl"]).json()
    assert outcome["status"] == "succeeded", outcome
    return Membership.objects.get(public_id=started["membership"])


def _stripe(method: str, path: str, **data) -> dict:
    response = requests.request(
        method,
        f"{settings.STRIPE_API_BASE}/v1/{path}",
        json=data,
        auth=(settings.STRIPE_SECRET_KEY, ""),
        timeout=10,
    )
    return response.json()


def renew(membership: Membership) -> dict:
    """Stripe's renewal: invoice the next period and charge the customer's default card.

    Returns the invoice as it stands after the charge (paid, or open if declined).
    """
    customer = membership.donor.stripe_customer_id
    invoice = _stripe(
        "POST", "invoices", customer=customer, subscription=membership.stripe_subscription_id
    )
    _stripe("POST", f"invoices/{invoice['id']}/pay")
    return _stripe("GET", f"invoices/{invoice['id']}")


def switch_default_card(membership: Membership, number: str) -> dict:
    """The member's card changes under them (expired, stolen...): renewals use `number`.
    The subscription as Stripe now holds it (the emulator sends no event for it)."""
    method = _stripe(
        "POST",
        "payment_methods",
        type="card",
        card={"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    )
    customer = membership.donor.stripe_customer_id
    _stripe("POST", f"payment_methods/{method['id']}/attach", customer=customer)
    _stripe(
        "POST",
        f"customers/{customer}",
        invoice_settings={"default_payment_method": method["id"]},
    )
    # The subscription's own card, which its renewals are charged to
    return _stripe(
        "POST",
        f"subscriptions/{membership.stripe_subscription_id}",
        default_payment_method=method["id"],
    )


def stripe_gives_up(membership: Membership) -> None:
    """After its last retry Stripe cancels the subscription."""
    _stripe("DELETE", f"subscriptions/{membership.stripe_subscription_id}")


def refreshed(membership: Membership, **expected) -> Membership:
    """Wait until the webhooks have brought the membership to `expected`."""

    def matches():
        membership.refresh_from_db()
        return all(getattr(membership, k) == v for k, v in expected.items()) and membership

    return wait_until(matches)
