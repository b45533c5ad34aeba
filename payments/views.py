"""The "Support us just once" page and the two JSON calls its script makes."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET, require_POST

from payments import ratelimit, selectors, services
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


def refuse_before_stripe(request: HttpRequest, email: str) -> JsonResponse | None:
    """Card-testing defence for a new gift: rate limits per IP and email, then the challenge."""
    if not (
        ratelimit.allow("give-ip", ratelimit.client_ip(request), settings.DONATION_RATE_PER_IP)
        and ratelimit.allow("give-email", email, settings.DONATION_RATE_PER_EMAIL)
    ):
        return JsonResponse({"error": TOO_MANY}, status=429)
    if settings.DONATION_CHALLENGE and not import_string(settings.DONATION_CHALLENGE)(request):
        return JsonResponse({"error": "Please complete the check and try again."}, status=400)
    return None


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
