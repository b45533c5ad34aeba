"""The gift page and its start call, the thank-you page, and the recipient's claim page.

The card is paid with payments' own pay call (payments:give_pay): a gift is a
one-time Donation of kind "gift". The logic is in members/services/gifts.py.
"""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config import ratelimit
from config.errors import Refused
from members import selectors
from members.forms import GiftForm
from members.services import gifts
from payments.money import Money
from payments.pages import (
    json_endpoint,
    member_email,
    page_for_reader,
    refuse_before_stripe,
    stripe_page,
    valid,
)
from payments.price_labels import GIFT, currencies_with_prices, pay_labels


@require_GET
def give(request: HttpRequest) -> HttpResponse:
    initial = GiftForm.initial_from_link(request.GET, referer=request.headers.get("Referer", ""))
    # The date picker starts at today (GiftForm): a page of yesterday is not kept.
    varies_on = {**initial, "today": timezone.localdate().isoformat()}
    return page_for_reader(request, "gift", varies_on, lambda: _gift_page(request, initial))


def _gift_page(request: HttpRequest, initial: dict[str, str]) -> tuple[str, dict]:
    """The page for a giver who came with `initial` (the same for every guest)."""
    initial = dict(initial)
    currency, months = initial["currency"], GiftForm.base_fields["months"].initial
    prices = gifts.gift_prices()
    # The price for the months starts in the amount box; gift.js keeps it in step with the
    # months until the giver types an amount of their own.
    amount = prices.get(currency, {}).get(months)
    if amount is not None:
        initial["amount"] = str(Money(amount, currency).as_decimal())
    form = GiftForm(initial=initial, member_email=member_email(request))
    levels = _gift_levels(prices)
    return "members/gift/give.html", {
        "form": form,
        "level": levels.get(currency),
        "prices": pay_labels(GIFT, amount, currency, months=months),
        **stripe_page(
            startUrl=reverse("gifts:start"),
            prices=prices,
            levels=levels,
            currencies=currencies_with_prices(),
        ),
    }


def _gift_levels(prices: dict[str, dict[int, int]]) -> dict[str, dict]:
    """{currency: {"name", "perks"}}: the level a gift membership is sold as, the one whose
    monthly price sets the gift's price (gifts.gift_prices), per currency."""
    cheapest = selectors.cheapest_monthly_levels()  # one query, not one per currency
    levels = {}
    for code in prices:
        level = cheapest.get(code)
        if level is not None:
            levels[code] = {"name": level.name, "perks": level.perks}
    return levels


@require_POST
@json_endpoint
def start(request: HttpRequest) -> JsonResponse:
    """Check the form and the rate limits; then record the gift (the page sends its card next)."""
    form = valid(GiftForm(request.POST, member_email=member_email(request)))
    data = form.cleaned_data
    refuse_before_stripe(request, data["email"])
    gift = gifts.start_gift(
        months=data["months"],
        amount=data.get("amount_minor"),
        currency=data["currency"],
        giver_email=data["email"],
        giver_name=data["name"],
        recipient_email=data["recipient_email"],
        recipient_name=data["recipient_name"],
        message=data["message"],
        send_on=data["send_on"],
        cover_fees=data["cover_fees"],
        user=request.user if request.user.is_authenticated else None,
        attribution=form.attribution(),
        client_ip=ratelimit.client_ip(request),
    )
    donation = gift.donation
    return JsonResponse(
        {
            "gift": str(gift.public_id),
            "total": str(donation.total),
            "payUrl": reverse("payments:give_pay", args=[donation.public_id]),
            "thanksUrl": reverse("gifts:thanks", args=[gift.public_id]),
        }
    )


@require_GET
def thanks(request: HttpRequest, public_id) -> HttpResponse:
    gift = selectors.gift_for_page(public_id)
    if gift is None:
        raise Http404
    return render(
        request,
        "members/gift/thanks.html",
        {"gift": gift, "donation": gift.donation, "today": timezone.localdate()},
    )


@require_http_methods(["GET", "POST"])
def claim(request: HttpRequest, token: str) -> HttpResponse:
    """Signed out: how to sign in to claim. Signed in: claim it (POST) for this account."""
    gift = gifts.gift_for_token(token)
    if gift is None:
        raise Http404
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?next={request.path}")
        try:
            membership = gifts.claim_gift(token, request.user)
        except gifts.GiftNotFound:
            raise Http404 from None
        except Refused as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"Your gift membership is active until {membership.ends_at:%d %B %Y}. Welcome!",
            )
            return redirect("members:account")
        gift = gifts.gift_for_token(token)
    claimed_by_you = (
        gift.membership is not None
        and request.user.is_authenticated
        and gift.membership.user_id == request.user.pk
    )
    return render(
        request,
        "members/gift/claim.html",
        {
            "gift": gift,
            "level": gifts.gift_level(gift.donation.currency),
            "claimed_by_you": claimed_by_you,
            "login_next": request.path,
        },
    )
