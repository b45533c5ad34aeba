"""The "Support us just once" page and the two JSON calls its script makes."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET, require_POST

from payments import card_testing, ratelimit, selectors, services
from payments import stripe_gateway as gateway
from payments.currencies import currencies_for_page
from payments.forms import DonationForm, errors_by_field
from payments.ratelimit import TOO_MANY


def stripe_page(**page_data) -> dict:
    """Template context for a page with a card form: Stripe.js and its script's data."""
    return {
        "page_data": {"publishableKey": settings.STRIPE_PUBLISHABLE_KEY, **page_data},
        "stripe_js_url": settings.STRIPE_JS_URL,
    }


def member_email(request: HttpRequest) -> str | None:
    """The signed-in reader's address: members give as themselves."""
    return request.user.email if request.user.is_authenticated else None


@require_GET
def give(request: HttpRequest) -> HttpResponse:
    initial = DonationForm.initial_from_link(request.GET)
    form = DonationForm(initial=initial, member_email=member_email(request))
    suggestions = {
        code: [{"amount": s.amount, "label": str(s), "default": s.is_default} for s in amounts]
        for code, amounts in selectors.suggested_amounts().items()
    }
    return render(
        request,
        "payments/give.html",
        {
            "form": form,
            "article": selectors.article_by_slug(initial["source"]),
            **stripe_page(
                startUrl=reverse("payments:give_start"),
                suggestions=suggestions,
                currencies=currencies_for_page(),
            ),
        },
    )


def _giver_limit(request: HttpRequest, email: str) -> tuple[str, str]:
    """The rate-limit bucket a start counts in besides its address: a signed-in member's
    own account (strangers typing their address cannot fill it), else the email as
    `ratelimit.email_key` normalises it."""
    if request.user.is_authenticated:
        return "give-account", str(request.user.pk)
    return "give-email", ratelimit.email_key(email)


def refuse_blocked(
    request: HttpRequest, email: str | None = None, *, challenge_everyone: bool = False
) -> JsonResponse | None:
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
        return None
    if challenge and import_string(challenge)(request):
        return None
    if blocked is not None:
        message = (
            card_testing.SOURCE_BLOCKED_CHALLENGE if challenge else card_testing.SOURCE_BLOCKED
        )
        return JsonResponse({"error": message, "challenge": bool(challenge)}, status=429)
    return JsonResponse({"error": "Please complete the check and try again."}, status=400)


def refuse_before_stripe(request: HttpRequest, email: str) -> JsonResponse | None:
    """Card-testing defence for a new gift: rate limits per IP and per email (or member),
    then blocks for failed card checks, then the challenge."""
    giver_scope, giver = _giver_limit(request, email)
    if not (
        ratelimit.allow("give-ip", ratelimit.client_ip(request), settings.DONATION_RATE_PER_IP)
        and ratelimit.allow(giver_scope, giver, settings.DONATION_RATE_PER_EMAIL)
    ):
        return JsonResponse({"error": TOO_MANY}, status=429)
    return refuse_blocked(request, email, challenge_everyone=True)


@require_POST
def give_start(request: HttpRequest) -> JsonResponse:
    """Check the form, the rate limits and the challenge; then open the gift with Stripe."""
    form = DonationForm(request.POST, member_email=member_email(request))
    if not form.is_valid():
        return JsonResponse({"errors": errors_by_field(form)}, status=400)
    refusal = refuse_before_stripe(request, form.cleaned_data["email"])
    if refusal is not None:
        return refusal
    article = selectors.article_by_slug(form.cleaned_data["source"])
    try:
        donation, setup_secret = services.start_donation(
            amount=form.cleaned_data["amount_minor"],
            currency=form.cleaned_data["currency"],
            email=form.cleaned_data["email"],
            name=form.cleaned_data["name"],
            cover_fees=form.cleaned_data["cover_fees"],
            user=request.user if request.user.is_authenticated else None,
            attribution={**form.attribution(), "article": article},
            client_ip=ratelimit.client_ip(request),
        )
    except services.DonationRefused as exc:
        return JsonResponse({"errors": {exc.field or "__all__": [exc.message]}}, status=400)
    except gateway.GatewayError as exc:
        return JsonResponse({"error": exc.user_message}, status=502)
    return JsonResponse(
        {
            "donation": str(donation.public_id),
            "total": str(donation.total),
            "setupClientSecret": setup_secret,
            "payUrl": reverse("payments:give_pay", args=[donation.public_id]),
            "thanksUrl": reverse("payments:give_thanks", args=[donation.public_id]),
        }
    )


def payment_step(outcome: services.PayOutcome, **urls: str) -> JsonResponse:
    """What the page's script does next (Patronage.settle reads it), plus where to go after."""
    return JsonResponse(
        {
            "status": outcome.status,
            "clientSecret": outcome.client_secret,
            "setupClientSecret": outcome.setup_client_secret,
            "error": outcome.message,
            **urls,
        }
    )


@require_POST
def give_pay(request: HttpRequest, public_id) -> JsonResponse:
    """Charge the card confirmed in the browser, or tell the page what Stripe still needs."""
    if not ratelimit.allow(
        "give-pay-ip", ratelimit.client_ip(request), settings.DONATION_RATE_PER_IP
    ):
        return JsonResponse({"error": TOO_MANY}, status=429)
    if selectors.donation_for_page(public_id) is None:
        raise Http404
    try:
        outcome = services.pay_donation(public_id)
    except services.DonationRefused as exc:
        return JsonResponse({"error": exc.message}, status=400)
    except gateway.GatewayError as exc:
        return JsonResponse({"error": exc.user_message}, status=502)
    return payment_step(outcome, thanksUrl=reverse("payments:give_thanks", args=[public_id]))


@require_GET
def give_thanks(request: HttpRequest, public_id) -> HttpResponse:
    donation = selectors.donation_for_page(public_id)
    if donation is None:
        raise Http404
    return render(request, "payments/thanks.html", {"donation": donation})
