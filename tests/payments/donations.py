"""Making a real one-time gift through the page's JSON calls and localstripe."""

from django.urls import reverse

from payments.models import Payment
from tests.support.processes import wait_until
from tests.support.stripejs import CARD_OK, create_payment_method


def give(client, *, card: str = CARD_OK, **fields) -> dict:
    """Start a gift, enter the card, pay; returns the start call's JSON."""
    data = {"amount": "25", "currency": "EUR", "email": "guest@example.org", **fields}
    response = client.post(reverse("payments:give_start"), data)
    assert response.status_code == 200, response.content
    gift = response.json()
    paid = client.post(gift["payUrl"], {"payment_method": create_payment_method(card)}).json()
    assert paid["status"] == "succeeded", paid
    return gift


def recorded_payment(**filters) -> Payment:
    """Wait until the webhook (processed by the worker) has written the ledger row."""
    return wait_until(lambda: Payment.objects.filter(**filters).select_related("donor").first())
