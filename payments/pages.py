"""What every page with a card form shares (give, gift membership, join, card update):
Stripe.js page data, the card-testing checks before Stripe is called, the answer
that tells the page's script what to do next, and the one error mapping of their
JSON endpoints."""

import functools
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string

from config import ratelimit
from config.errors import Refused, TooManyAttempts
from config.forms import errors_by_field
from payments import card_testing
from payments import stripe_gateway as gateway
from payments.services.donations import PayOutcome


def json_endpoint(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """Answer a refusal with its status (400, or 429 for too many attempts) and reason,
    and Stripe's failure with 502 and the reader-safe message. Nothing else to catch."""

    @functools.wraps(view)
    def answer(request: HttpRequest, *args, **kwargs) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except Refused as refusal:
            return JsonResponse(refusal.as_json(), status=refusal.status)
        except gateway.GatewayError as failure:
            return JsonResponse({"error": failure.user_message}, status=502)

    return answer


class InvalidForm(Refused):
    """A form with errors: every field's messages, as the page's script shows them."""

    def __init__(self, form) -> None:
        super().__init__("Please correct the errors below.")
        self.form = form

    def as_json(self) -> dict:
        return {"errors": errors_by_field(self.form)}


def valid(form):
    """The form, if valid; else InvalidForm (400 with its errors)."""
    if not form.is_valid():
        raise InvalidForm(form)
    return form


def stripe_page(**page_data) -> dict:
    """Template context for a page with a card form: Stripe.js and its script's data."""
    return {
        "page_data": {
            "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
            "cardMessages": gateway.CARD_MESSAGES,
            **page_data,
        },
        "stripe_js_url": settings.STRIPE_JS_URL,
    }


def member_email(request: HttpRequest) -> str | None:
    """The signed-in reader's address: members give as themselves."""
    return request.user.email if request.user.is_authenticated else None


def _giver_limit(request: HttpRequest, email: str) -> tuple[str, str]:
    """The rate-limit bucket a start counts in besides its address: a signed-in member's
    own account (strangers typing their address cannot fill it), else the email as
    `ratelimit.email_key` normalises it."""
    if request.user.is_authenticated:
        return "give-account", str(request.user.pk)
    return "give-email", ratelimit.email_key(email)


def refuse_blocked(
    request: HttpRequest, email: str | None = None, *, challenge_everyone: bool = False
) -> None:
    """A start from a source blocked for failed card checks (its address, the guest's email
    or the member's account: payments/card_testing.py) is refused with 429 until the block
    ends, unless it passes DONATION_CHALLENGE when one is configured. With
    `challenge_everyone`, every start must pass a configured challenge (400 otherwise)."""
    user_id = request.user.pk if request.user.is_authenticated else None
    blocked = card_testing.active_block(
        ip=ratelimit.client_ip(request), email=None if user_id else email, user_id=user_id
    )
    challenge = settings.DONATION_CHALLENGE
    if blocked is None and not (challenge and challenge_everyone):
        return
    if challenge and import_string(challenge)(request):
        return
    if blocked is not None:
        message = (
            card_testing.SOURCE_BLOCKED_CHALLENGE if challenge else card_testing.SOURCE_BLOCKED
        )
        raise TooManyAttempts(message, challenge=bool(challenge))
    raise Refused("Please complete the check and try again.")


def refuse_before_stripe(request: HttpRequest, email: str) -> None:
    """Card-testing defence for a new gift: rate limits per IP and per email (or member),
    then blocks for failed card checks, then the challenge."""
    ratelimit.require(
        ("give-ip", ratelimit.client_ip(request), settings.DONATION_RATE_PER_IP),
        (*_giver_limit(request, email), settings.DONATION_RATE_PER_EMAIL),
    )
    refuse_blocked(request, email, challenge_everyone=True)


def payment_step(outcome: PayOutcome, **urls: str) -> JsonResponse:
    """What the page's script does next (Patronage.settle reads it), plus where to go after."""
    return JsonResponse(
        {
            "status": outcome.status,
            "clientSecret": outcome.client_secret,
            "error": outcome.message,
            "anotherCard": outcome.another_card,
            **urls,
        }
    )
