"""What Stripe.js does in the reader's browser, done over HTTP against localstripe.

These are the same requests the emulator's fake Stripe.js (served at
/js.stripe.com/v3/) sends for `createPaymentMethod`, `confirmCardSetup` and
`confirmCardPayment`, so tests drive the payment pages' flow without a browser.
"""

import requests
from django.conf import settings

CARD_OK = "4242424242424242"
ANOTHER_CARD_OK = "4000056655665556"  # a Visa debit card: another card that pays
CARD_3DS = "4000002760003184"  # the bank asks for 3-D Secure
CARD_DECLINED_ON_CHARGE = "4000000000000341"  # saves fine, declined when charged
CARD_DECLINED_AT_SETUP = "4000000000000002"  # declined when the card is set up or charged


def create_payment_method(number: str = CARD_OK, *, email: str = "reader@example.org") -> str:
    """stripe.createPaymentMethod({type: "card", card}): the card entered in the page, as
    the id the page sends to our server (`payment_method`)."""
    body = {
        "key": settings.STRIPE_PUBLISHABLE_KEY,
        "type": "card",
        "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        "billing_details": {"email": email},
    }
    response = requests.post(
        f"{settings.STRIPE_API_BASE}/v1/payment_methods", json=body, timeout=10
    )
    response.raise_for_status()
    return response.json()["id"]


def confirm_card_setup(setup_client_secret: str, number: str = CARD_OK) -> dict:
    """stripe.confirmCardSetup(secret, {payment_method: {card}}), 3-D Secure completed."""
    setup_id = setup_client_secret.split("_secret_")[0]
    body = {
        "key": settings.STRIPE_PUBLISHABLE_KEY,
        "use_stripe_sdk": True,
        "client_secret": setup_client_secret,
        "payment_method_data": {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            "billing_details": {"email": "reader@example.org"},
        },
    }
    url = f"{settings.STRIPE_API_BASE}/v1/setup_intents/{setup_id}/confirm"
    result = requests.post(url, json=body, timeout=10).json()
    if result.get("status") == "requires_action":  # the reader completes the bank's check
        confirm = {
            "key": body["key"],
            "use_stripe_sdk": True,
            "client_secret": body["client_secret"],
        }
        result = requests.post(url, json=confirm, timeout=10).json()
    return result


def confirm_card_payment(client_secret: str, *, authenticate: bool = True) -> dict:
    """stripe.confirmCardPayment(secret): the reader passes (or fails) 3-D Secure."""
    intent_id = client_secret.split("_secret_")[0]
    url = (
        f"{settings.STRIPE_API_BASE}/v1/payment_intents/{intent_id}/_authenticate"
        f"?success={'true' if authenticate else 'false'}"
    )
    body = {"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": client_secret}
    return requests.post(url, json=body, timeout=10).json()
