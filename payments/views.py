"""The "Support us just once" page and the two JSON calls its script makes."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from config import ratelimit
from payments import selectors
from payments.attribution import source_article
from payments.currencies import currencies_for_page
from payments.forms import DonationForm
from payments.pages import (
    json_endpoint,
    member_email,
    payment_step,
    refuse_before_stripe,
    stripe_page,
    valid,
)
from payments.services import donations


@require_GET
def give(request: HttpRequest) -> HttpResponse:
    initial = DonationForm.initial_from_link(
        request.GET, referer=request.headers.get("Referer", "")
    )
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
            "article": source_article(initial["source"]),
            **stripe_page(
                startUrl=reverse("payments:give_start"),
                suggestions=suggestions,
                currencies=currencies_for_page(),
            ),
        },
    )


@require_POST
@json_endpoint
def give_start(request: HttpRequest) -> JsonResponse:
    """Check the form, the rate limits and the challenge; then open the gift with Stripe."""
    form = valid(DonationForm(request.POST, member_email=member_email(request)))
    data = form.cleaned_data
    refuse_before_stripe(request, data["email"])
    donation, setup_secret = donations.start_donation(
        amount=data["amount_minor"],
        currency=data["currency"],
        email=data["email"],
        name=data["name"],
        cover_fees=data["cover_fees"],
        user=request.user if request.user.is_authenticated else None,
        attribution=form.attribution(),
        client_ip=ratelimit.client_ip(request),
    )
    return JsonResponse(
        {
            "donation": str(donation.public_id),
            "total": str(donation.total),
            "setupClientSecret": setup_secret,
            "payUrl": reverse("payments:give_pay", args=[donation.public_id]),
            "thanksUrl": reverse("payments:give_thanks", args=[donation.public_id]),
        }
    )


@require_POST
@json_endpoint
def give_pay(request: HttpRequest, public_id) -> JsonResponse:
    """Charge the card confirmed in the browser, or tell the page what Stripe still needs."""
    ratelimit.require(("give-pay-ip", ratelimit.client_ip(request), settings.DONATION_RATE_PER_IP))
    if selectors.donation_for_page(public_id) is None:
        raise Http404
    outcome = donations.pay_donation(public_id)
    return payment_step(outcome, thanksUrl=reverse("payments:give_thanks", args=[public_id]))


@require_GET
def give_thanks(request: HttpRequest, public_id) -> HttpResponse:
    donation = selectors.donation_for_page(public_id)
    if donation is None:
        raise Http404
    return render(request, "payments/thanks.html", {"donation": donation})
