"""What the gateway raises, and the messages a reader may be shown.

Callers catch these, never the `stripe` library's own errors: `transport.py`
turns each of those into one of ours.
"""

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
