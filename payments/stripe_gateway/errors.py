"""What the gateway raises, and the messages a reader may be shown.

Callers catch these, never the `stripe` library's own errors: `transport.py`
turns each of those into one of ours.
"""

UNAVAILABLE_MESSAGE = (
    "We could not reach our card processor. You have not been charged; "
    "please try again in a minute."
)
GENERIC_MESSAGE = "Your payment could not be processed. You have not been charged."
# Said when a write that may take money (a payment) may have been done by Stripe: it
# reached Stripe and no answer came back (a timeout, a connection cut after sending, a
# 5xx), so whether the reader was charged is not known. Never "not charged" then.
OUTCOME_UNKNOWN_MESSAGE = (
    "Our card processor did not answer in time, so we cannot tell yet whether your payment "
    "went through. If it did, your receipt is on its way by email. Please wait a few "
    "minutes and check your email before trying again."
)
# The same for a write that moves no money (a customer, a saved card, a cancellation).
UNANSWERED_MESSAGE = (
    "Our card processor did not answer in time. You have not been charged; please try "
    "again in a minute."
)


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
    """Stripe could not be reached, even after retries: nothing was done at Stripe."""


class OutcomeUnknown(GatewayUnavailable):
    """A write that may have reached Stripe got no answer (a timeout, a connection cut
    after sending, a 5xx), even after retries: Stripe may or may not have done it.

    Sent again with the same idempotency key and parameters, it is done once (or its
    first answer replayed); until then nobody may be told it was not done.
    """


def staff_message(exc: GatewayError, what: str) -> str:
    """What staff are told when Stripe failed `what` ("The refund", "The change"): whether
    it was made, what to do, and Stripe's own detail (never the reader's sentence)."""
    if isinstance(exc, OutcomeUnknown):
        said = (
            f"Stripe did not answer, so it is not known whether {what.lower()} was made. "
            "Check in Stripe's dashboard, or send the same again: it goes with the same "
            "idempotency key, so Stripe makes it once."
        )
    elif isinstance(exc, GatewayUnavailable):
        said = f"Stripe could not be reached: {what.lower()} was not made. Try again in a minute."
    else:
        said = f"Stripe refused: {what.lower()} was not made."
    return f"{said} (Stripe: {exc.detail})"


class ObjectNotFound(GatewayError):
    """Stripe has no such object for our account (404): deleted test data, another
    account's (Connect) object, or one that was never ours."""


class UnreadableObject(Exception):
    """A Stripe object lacks a field this API version always has: it is in a shape
    we cannot read (an old API version), so nothing is written from it."""


class InvalidWebhook(Exception):
    """A webhook whose signature, timestamp or body is not acceptable."""


# --- What a reader is told when a card does not work -----------------------------------
#
# Stripe's own sentences ("The latest attempt to set up the payment method has failed
# because authentication failed.") are for developers. Every card error a reader can
# meet, from Stripe (a decline code or an error code) or from Stripe.js in the page (the
# same codes, see static/js/patronage.js `cardMessage`), is told in one of these.

DECLINED = "Your card was declined. Please try another card, or ask your bank why."
CARD_MESSAGES = {
    "_default": (
        "Your card could not be used. You have not been charged; please check the details "
        "or try another card."
    ),
    "card_declined": DECLINED,
    "generic_decline": DECLINED,
    "do_not_honor": DECLINED,
    "fraudulent": DECLINED,
    "lost_card": DECLINED,
    "stolen_card": DECLINED,
    "pickup_card": DECLINED,
    "restricted_card": DECLINED,
    "security_violation": DECLINED,
    "insufficient_funds": "Your card was declined: it does not have enough funds. "
    "Please try another card.",
    "card_velocity_exceeded": "Your card was declined: it has reached its spending limit. "
    "Please try another card.",
    "expired_card": "Your card has expired. Please check the expiry date, or use another card.",
    "incorrect_cvc": "The card's security code (CVC) is not right. Please check it.",
    "invalid_cvc": "The card's security code (CVC) is not right. Please check it.",
    "incomplete_cvc": "Please enter the card's security code (CVC).",
    "incorrect_number": "The card number is not right. Please check it.",
    "invalid_number": "The card number is not right. Please check it.",
    "incomplete_number": "Please enter the whole card number.",
    "invalid_expiry_month": "The card's expiry date is not right. Please check it.",
    "invalid_expiry_year": "The card's expiry date is not right. Please check it.",
    "invalid_expiry_year_past": "The card's expiry date is in the past. Please check it.",
    "incomplete_expiry": "Please enter the card's expiry date.",
    "incorrect_zip": "The postcode does not match the card's. Please check it.",
    "incomplete_zip": "Please enter the card's postcode.",
    "card_not_supported": "This card cannot be used for this payment. Please try another card.",
    "currency_not_supported": "This card cannot pay in this currency. Please try another card.",
    "processing_error": "Your bank could not process the card just now. You have not been "
    "charged; please try again in a minute.",
    "authentication_required": "Your bank wants to check it is you, and the check was not "
    "completed. You have not been charged; please try again, or use another card.",
    "payment_intent_authentication_failure": "Your bank's check (3-D Secure) did not go "
    "through, so you have not been charged. Please try again, or use another card.",
    "setup_intent_authentication_failure": "Your bank's check (3-D Secure) did not go "
    "through, so your card was not saved. Please try again, or use another card.",
}


def card_message(code: str | None, decline_code: str | None = None) -> str:
    """Our sentence for a card error Stripe reported with `code` (and `decline_code`)."""
    return (
        CARD_MESSAGES.get(decline_code or "")
        or CARD_MESSAGES.get(code or "")
        or CARD_MESSAGES["_default"]
    )
