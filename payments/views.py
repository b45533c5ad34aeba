"""The "Support us just once" page and the two JSON calls its script makes."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from config import ratelimit
from payments import selectors
from payments.attribution import source_article
from payments.forms import DonationForm
from payments.money import Money
from payments.pages import (
    json_endpoint,
    member_email,
    page_for_reader,
    payment_step,
    refuse_before_stripe,
    stripe_page,
    valid,
)
from payments.price_labels import ONCE, currencies_with_prices, pay_labels, short
from payments.services import donations


@require_GET
def give(request: HttpRequest) -> HttpResponse:
    initial = DonationForm.initial_from_link(
        request.GET, referer=request.headers.get("Referer", "")
    )
    return page_for_reader(request, "give", initial, lambda: _give_page(request, initial))


def _give_page(request: HttpRequest, initial: dict[str, str]) -> tuple[str, dict]:
    """The page for a reader who came with `initial` (the same for every guest)."""
    suggested = selectors.suggested_amounts()
    suggestions = {
        code: [
            {"amount": s.amount, "label": short(s.amount, code), "default": s.is_default}
            for s in amounts
        ]
        for code, amounts in suggested.items()
    }
    # The default suggestion starts in the amount box (as give.js does on a currency change),
    # so the button and the fee cover say the amount from the first paint.
    initial = dict(initial)
    currency = initial["currency"]
    amount = next((s.amount for s in suggested.get(currency, []) if s.is_default), None)
    if amount is not None:
        initial["amount"] = str(Money(amount, currency).as_decimal())
    form = DonationForm(initial=initial, member_email=member_email(request))
    return "payments/give.html", {
        "form": form,
        "article": source_article(initial["source"]),
        "prices": pay_labels(ONCE, amount, currency),
        **stripe_page(
            startUrl=reverse("payments:give_start"),
            suggestions=suggestions,
            currencies=currencies_with_prices(),
        ),
    }


@require_POST
@json_endpoint
def give_start(request: HttpRequest) -> JsonResponse:
    """Check the form, the rate limits and the challenge; then open the gift with Stripe."""
    form = valid(DonationForm(request.POST, member_email=member_email(request)))
    data = form.cleaned_data
    refuse_before_stripe(request, data["email"])
    donation = donations.start_donation(
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
            "payUrl": reverse("payments:give_pay", args=[donation.public_id]),
            "thanksUrl": reverse("payments:give_thanks", args=[donation.public_id]),
        }
    )


@require_POST
@json_endpoint
def give_pay(request: HttpRequest, public_id) -> JsonResponse:
    """Charge the card entered in the page (`payment_method`, from Stripe.js), or tell the
    page what Stripe still needs."""
    ratelimit.require(("give-pay-ip", ratelimit.client_key(request), settings.DONATION_RATE_PER_IP))
    if selectors.donation_for_page(public_id) is None:
        raise Http404
    outcome = donations.pay_donation(public_id, request.POST.get("payment_method", ""))
    return payment_step(outcome, thanksUrl=reverse("payments:give_thanks", args=[public_id]))


@require_GET
def give_thanks(request: HttpRequest, public_id) -> HttpResponse:
    donation = selectors.donation_for_page(public_id)
    if donation is None:
        raise Http404
    return render(request, "payments/thanks.html", {"donation": donation})
