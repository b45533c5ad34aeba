from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config import ratelimit
from config.emails import organization
from config.errors import Refused
from config.forms import add_refusal
from members import selectors
from members.forms import (
    CancelMembershipForm,
    ChangeMembershipForm,
    JoinForm,
    NewsletterForm,
    ProfileForm,
    SupportersWallForm,
)
from members.services import checkout, newsletters, self_service, supporters
from members.services.accounts import update_profile
from members.states import Interval
from payments import stripe_gateway as gateway
from payments.attribution import source_article
from payments.money import Money, parse_major_amount
from payments.pages import (
    json_endpoint,
    member_email,
    page_for_reader,
    payment_step,
    refuse_blocked,
    stripe_page,
    valid,
)
from payments.price_labels import MEMBERSHIP, currencies_with_prices, pay_labels
from payments.selectors import giving_history


def _json_login_required(view):
    """JSON endpoints answer 401 (not a redirect to the sign-in page) to a signed-out reader."""

    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "Please sign in first."}, status=401)
        return view(request, *args, **kwargs)

    return wrapped


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The member's own page: who they are and what they can change."""
    form = ProfileForm(request.POST or None, initial={"display_name": request.user.display_name})
    if request.method == "POST" and form.is_valid():
        update_profile(request.user, display_name=form.cleaned_data["display_name"])
        messages.success(request, "Your details are saved.")
        return redirect("members:account")
    is_member = selectors.has_member_perks(request.user)
    offered = selectors.newsletters_offered(request.user, is_member=is_member)
    return render(
        request,
        "members/account.html",
        {
            "form": form,
            "payments": giving_history(request.user),
            "memberships": selectors.memberships_of(request.user),
            "current": selectors.billed_membership(request.user),
            "is_member": is_member,
            "years": selectors.giving_years(request.user),
            "newsletter_form": NewsletterForm(
                offered=offered,
                initial={"newsletters": sorted(selectors.newsletter_slugs_of(request.user))},
            ),
        },
    )


@login_required
@require_POST
def account_newsletters(request: HttpRequest) -> HttpResponse:
    """The reader's choice of newsletters, from the account page."""
    form = NewsletterForm(request.POST, offered=selectors.newsletters_offered(request.user))
    try:
        if not form.is_valid():
            raise Refused("Choose among the newsletters offered to you.", field="newsletters")
        newsletters.choose_newsletters(request.user, form.cleaned_data["newsletters"])
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Your newsletters are saved.")
    return redirect(reverse("members:account") + "#newsletters")


@login_required
@require_POST
def account_supporters_wall(request: HttpRequest) -> HttpResponse:
    """One click on the account page: listed on the supporters page, or not."""
    form = SupportersWallForm(request.POST)
    try:
        if not form.is_valid():
            raise Refused("Please try again.")
        listed = form.cleaned_data["listed"]
        supporters.list_on_supporters_wall(request.user, listed)
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Your name is on our supporters page. Thank you!"
            if listed
            else "Your name is no longer on our supporters page.",
        )
    return redirect(reverse("members:account") + "#supporters-wall")


@require_GET
def supporters_page(request: HttpRequest) -> HttpResponse:
    """The public supporters page: members who chose to be listed, by name."""
    page = Paginator(selectors.supporters_wall(), settings.SUPPORTERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "members/supporters.html", {"page": page})


# --- Join ("Become a member") ---------------------------------------------------------


def _linked_amount(params, currency: str) -> int | None:
    """The amount a link asks for (?amount=15.00, from the thank-you page's "make it
    monthly"), if it reads as one in this currency; the form checks it again on paying."""
    try:
        return parse_major_amount(params.get("amount", ""), currency)
    except ValueError:
        return None


@require_GET
def join(request: HttpRequest) -> HttpResponse:
    """One page: a level (or any amount), monthly or yearly, the guest's email, the card."""
    initial = JoinForm.initial_from_link(
        request.GET,
        referer=request.headers.get("Referer", ""),
        interval=request.GET.get("interval", "month"),
    )
    if initial["interval"] not in Interval.values:
        initial["interval"] = Interval.MONTH
    linked = _linked_amount(request.GET, initial["currency"])
    # A reader who signs in first comes back here from the sign-in page (their Referer
    # then): the link back names the page that sent them.
    back = request.GET.copy()
    if initial["referrer"]:
        back["ref"] = initial["referrer"]
    login_next = f"{request.path}?{back.urlencode()}" if back else request.path
    return page_for_reader(
        request,
        "join",
        {**initial, "linked": linked, "login_next": login_next},
        lambda: _join_page(request, initial, linked, login_next),
    )


def _join_page(
    request: HttpRequest, initial: dict[str, str], linked: int | None, login_next: str
) -> tuple[str, dict]:
    """The page for a reader who came with `initial`; a member's own membership only when
    signed in."""
    initial = dict(initial)
    currency, interval = initial["currency"], initial["interval"]
    choices = selectors.join_choices(currency, interval, linked)
    amount = choices.amount
    if amount is not None:
        initial["amount"] = str(Money(amount, currency).as_decimal())
    form = JoinForm(initial=initial, member_email=member_email(request))
    current = selectors.billed_membership(request.user) if request.user.is_authenticated else None
    return "members/join.html", {
        "form": form,
        "level_cards": choices.cards,
        "current": current if current and current.has_perks else None,
        "article": source_article(initial["source"]),
        "login_next": login_next,
        "prices": pay_labels(MEMBERSHIP, amount, currency, interval=interval),
        **stripe_page(
            startUrl=reverse("members:join_start"),
            levelPrices=choices.prices,
            currencies=currencies_with_prices(),
        ),
    }


# The memberships this browser started and may confirm and see (newest last, at most
# JOINS_KEPT): a guest's join is theirs by their session, never by the id in the address.
JOINS_SESSION_KEY = "patronage_joins"
JOINS_KEPT = 10


def _remember_join(request: HttpRequest, membership) -> None:
    started = [
        i for i in request.session.get(JOINS_SESSION_KEY, []) if i != str(membership.public_id)
    ]
    request.session[JOINS_SESSION_KEY] = [*started, str(membership.public_id)][-JOINS_KEPT:]


def _join_of(request: HttpRequest, public_id):
    """The membership this reader may confirm and see (selectors.started_join), else 404."""
    membership = selectors.started_join(
        request.user, public_id, request.session.get(JOINS_SESSION_KEY, [])
    )
    if membership is None:
        raise Http404
    return membership


@require_POST
@json_endpoint
def join_start(request: HttpRequest) -> JsonResponse:
    """Check the form and the limits, then record the membership (the page sends its card
    next). A guest gives their email; the answer is the same whether or not it has an
    account."""
    signed_in = request.user.is_authenticated
    form = valid(JoinForm(request.POST, member_email=member_email(request)))
    email = form.cleaned_data["email"]
    ratelimit.require(
        ("join-ip", ratelimit.client_key(request), settings.DONATION_RATE_PER_IP),
        ("join-user", str(request.user.pk), settings.DONATION_RATE_PER_EMAIL)
        if signed_in
        else ("join-email", ratelimit.email_key(email), settings.DONATION_RATE_PER_EMAIL),
    )
    if signed_in:
        refuse_blocked(request)
    else:  # a guest's card checks count against the address typed too, as gifts' do
        refuse_blocked(request, email, challenge_everyone=True)
    membership = checkout.start_membership(
        user=request.user if signed_in else None,
        email=email,
        amount=form.cleaned_data["amount_minor"],
        currency=form.cleaned_data["currency"],
        interval=form.cleaned_data["interval"],
        attribution=form.attribution(),
        client_ip=ratelimit.client_ip(request),
    )
    _remember_join(request, membership)
    return JsonResponse(
        {
            "membership": str(membership.public_id),
            "confirmUrl": reverse("members:join_confirm", args=[membership.public_id]),
            "welcomeUrl": reverse("members:join_welcome", args=[membership.public_id]),
        }
    )


@require_POST
@json_endpoint
def join_confirm(request: HttpRequest, public_id) -> JsonResponse:
    ratelimit.require(
        ("join-confirm-ip", ratelimit.client_key(request), settings.DONATION_RATE_PER_IP)
    )
    membership = _join_of(request, public_id)
    outcome = checkout.confirm_membership(membership, request.POST.get("payment_method", ""))
    return payment_step(outcome, welcomeUrl=reverse("members:join_welcome", args=[public_id]))


@require_GET
def join_welcome(request: HttpRequest, public_id) -> HttpResponse:
    membership = _join_of(request, public_id)
    # Someone not signed in to the membership's account (a guest, whether or not the
    # address had an account) is told the same: sign in as that address to see it.
    signed_in_as_owner = request.user.is_authenticated and membership.user_id == request.user.pk
    return render(
        request,
        "members/welcome.html",
        {
            "membership": membership,
            "guest": not signed_in_as_owner,
            "login_code_url": reverse("account_request_login_code")
            + "?"
            + urlencode({"email": membership.email}),
        },
    )


# --- Card update ----------------------------------------------------------------------


def _own_paid_membership(request: HttpRequest):
    membership = selectors.billed_membership(request.user)
    if membership is None:
        raise Http404
    return membership


@login_required
@require_GET
def card(request: HttpRequest) -> HttpResponse:
    """Update the card renewals are charged to (and retry a failed renewal on it)."""
    return render(
        request,
        "members/card.html",
        {
            "membership": _own_paid_membership(request),
            **stripe_page(
                startUrl=reverse("members:card_start"),
                finishUrl=reverse("members:card_finish"),
                doneUrl=reverse("members:account"),
            ),
        },
    )


@require_POST
@_json_login_required
@json_endpoint
def card_start(request: HttpRequest) -> JsonResponse:
    ratelimit.require(("card-user", str(request.user.pk), settings.DONATION_RATE_PER_EMAIL))
    refuse_blocked(request)
    secret = self_service.start_card_update(
        _own_paid_membership(request), client_ip=ratelimit.client_ip(request)
    )
    return JsonResponse({"setupClientSecret": secret})


@require_POST
@_json_login_required
@json_endpoint
def card_finish(request: HttpRequest) -> JsonResponse:
    """Save the card; a past-due renewal is paid with it (3-D Secure if the bank asks)."""
    membership = _own_paid_membership(request)
    outcome = self_service.finish_card_update(membership)
    if outcome.status == "succeeded":
        membership.refresh_from_db(fields=["card_brand", "card_last4"])
        now = f": renewals now go to your {membership.card}" if membership.card else ""
        messages.success(request, f"Your card is updated{now}.")
    return payment_step(outcome, doneUrl=reverse("members:account"))


# --- A renewal that waits for 3-D Secure ------------------------------------------------


@login_required
@require_GET
def confirm_payment(request: HttpRequest) -> HttpResponse:
    """The page the "confirm your payment" email links to: the amount, and one button."""
    membership = _own_paid_membership(request)
    try:
        renewal = selectors.renewal_to_confirm(membership)
    except gateway.GatewayError as exc:
        messages.error(request, exc.user_message)
        return redirect("members:account")
    return render(
        request,
        "members/confirm_payment.html",
        {
            "membership": membership,
            "renewal": renewal,
            **stripe_page(
                settleUrl=reverse("members:confirm_payment_settle"),
                doneUrl=reverse("members:account"),
            ),
        },
    )


@require_POST
@_json_login_required
@json_endpoint
def confirm_payment_settle(request: HttpRequest) -> JsonResponse:
    """Where the renewal stands: 3-D Secure to run in Stripe.js, or done."""
    outcome = self_service.confirm_renewal_payment(_own_paid_membership(request))
    if outcome.status == "succeeded":
        messages.success(request, "Your membership payments are up to date. Thank you!")
    return payment_step(outcome, doneUrl=reverse("members:account"))


# --- Change, cancel, resume -----------------------------------------------------------


def _change_form(membership, data=None) -> ChangeMembershipForm:
    amount = Money(membership.amount, membership.currency).as_decimal()
    return ChangeMembershipForm(
        data,
        currency=membership.currency,
        initial={"amount": f"{amount}", "interval": membership.interval},
    )


@login_required
@require_http_methods(["GET", "POST"])
def membership_change(request: HttpRequest) -> HttpResponse:
    """A new amount and/or interval for the member's own membership: the page says what
    will be charged when before they save (membership_change.js keeps it current)."""
    membership = _own_paid_membership(request)
    form = _change_form(membership, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            membership, said = self_service.change_membership(
                membership,
                amount=form.cleaned_data["amount"],
                interval=form.cleaned_data["interval"],
                quoted_at=form.cleaned_data["quoted_at"],
            )
        except Refused as exc:
            add_refusal(form, exc)
        except gateway.GatewayError as exc:
            form.add_error(None, self_service.not_done_message(exc))
        else:
            messages.success(request, said)
            return redirect("members:account")
    try:  # the price as it stands, before any change is typed
        quote = self_service.preview_change(
            membership, amount=membership.amount, interval=membership.interval
        )
    except Refused:
        quote = None
    return render(
        request,
        "members/membership_change.html",
        {
            "membership": membership,
            "form": form,
            "quote": quote,
            "prorates": settings.MEMBERSHIP_PRORATION != "none",
            "levels": selectors.level_suggestions().get(membership.currency, {}),
            "page_data": {"previewUrl": reverse("members:membership_change_preview")},
        },
    )


# Live price previews (one per amount or interval typed) a member may ask for.
CHANGE_PREVIEW_RATE = "60/10m"


@require_GET
@_json_login_required
@json_endpoint
def membership_change_preview(request: HttpRequest) -> JsonResponse:
    """What `?amount=&interval=` would charge, and when, for the member's own membership:
    the sentence and the button's words (400 with the field for a bad amount or interval)."""
    ratelimit.require(("change-preview-user", str(request.user.pk), CHANGE_PREVIEW_RATE))
    membership = _own_paid_membership(request)
    form = valid(_change_form(membership, request.GET))
    quote = self_service.preview_change(
        membership, amount=form.cleaned_data["amount"], interval=form.cleaned_data["interval"]
    )
    return JsonResponse(quote.as_json())


@login_required
@require_http_methods(["GET", "POST"])
def membership_cancel(request: HttpRequest) -> HttpResponse:
    """Stop renewing at the end of the period paid for (the member keeps perks until then)."""
    membership = _own_paid_membership(request)
    form = CancelMembershipForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = self_service.cancel_membership(
                membership,
                reason=form.cleaned_data["reason"],
                category=form.cleaned_data["category"],
            )
        except Refused as exc:
            add_refusal(form, exc)
        except gateway.GatewayError as exc:
            form.add_error(None, self_service.not_done_message(exc))
        else:
            ends = membership.current_period_end
            when = f" on {ends:%-d %B %Y}" if ends else " at the end of the period paid for"
            messages.success(
                request, f"Your membership will end{when}. Thank you for your support."
            )
            return redirect("members:account")
    return render(
        request, "members/membership_cancel.html", {"membership": membership, "form": form}
    )


@login_required
@require_POST
def membership_resume(request: HttpRequest) -> HttpResponse:
    """Undo a cancellation before the period ends."""
    membership = _own_paid_membership(request)
    try:
        self_service.resume_membership(membership)
    except Refused as exc:
        messages.error(request, exc.message)
    except gateway.GatewayError as exc:
        messages.error(request, self_service.not_done_message(exc))
    else:
        messages.success(request, "Your membership will carry on. Thank you for staying.")
    return redirect("members:account")


# --- Receipts and statements ----------------------------------------------------------


@login_required
@require_GET
def receipt(request: HttpRequest, number: str) -> HttpResponse:
    found = selectors.receipt_of(request.user, number)
    if found is None:
        raise Http404
    return render(
        request,
        "members/receipt.html",
        {"receipt": found, "payment": found.payment, "organization": organization()},
    )


@login_required
@require_GET
def statement(request: HttpRequest, year: int) -> HttpResponse:
    """A printable statement of one year's giving, for the member's tax return."""
    found = selectors.yearly_statement(request.user, year) if 1900 <= year <= 9999 else None
    if found is None:
        raise Http404
    return render(
        request,
        "members/statement.html",
        {"statement": found, "organization": organization()},
    )
