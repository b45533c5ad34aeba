"""Reads in members: memberships, levels, perks."""

from dataclasses import dataclass

from django.db.models import F, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import ExtractYear
from django.utils import timezone

from members.models import (
    OPEN_STATUSES,
    GiftMembership,
    LevelAmount,
    Membership,
    MembershipLevel,
    User,
)
from members.states import PERK_STATUSES, MembershipKind, MembershipStatus
from payments import stripe_gateway as gateway
from payments.models import Payment, Receipt
from payments.money import Money


def memberships_of(user: User) -> QuerySet[Membership]:
    """The account's memberships, newest first (paid, comp and gifts received)."""
    return Membership.objects.filter(user=user).select_related("level").order_by("-created_at")


def membership_of(user: User, public_id) -> Membership | None:
    """One membership, only if it is this account's own (guessed ids find nothing)."""
    return Membership.objects.filter(user=user, public_id=public_id).first()


def has_member_perks(user: User) -> bool:
    """Active, trialing or past-due paid memberships, and live comp or gift memberships."""
    if not user.is_authenticated:
        return False
    return (
        Membership.objects.filter(user=user, status__in=PERK_STATUSES)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now()))
        .exists()
    )


def offered_levels() -> list[MembershipLevel]:
    amounts = Prefetch("amounts", queryset=LevelAmount.objects.order_by("amount"))
    return list(MembershipLevel.objects.filter(is_active=True).prefetch_related(amounts))


def level_suggestions() -> dict[str, dict[str, list[dict]]]:
    """{currency: {interval: [{amount, label, level}]}} for the join page's buttons."""
    suggestions: dict[str, dict[str, list[dict]]] = {}
    prices = (
        LevelAmount.objects.filter(level__is_active=True)
        .select_related("level")
        .order_by("currency", "interval", "amount")
    )
    for price in prices:
        suggestions.setdefault(price.currency, {}).setdefault(price.interval, []).append(
            {"amount": price.amount, "label": str(price), "level": price.level.name}
        )
    return suggestions


# --- Giving history: receipts and yearly statements ------------------------------------


@dataclass(frozen=True)
class CurrencyTotal:
    """One currency's line on a statement: charged, refunded, and what was kept."""

    currency: str
    gross: Money
    refunded: Money
    net: Money


@dataclass(frozen=True)
class YearStatement:
    year: int
    payments: QuerySet[Payment]
    totals: list[CurrencyTotal]


def receipt_of(user: User, number: str) -> Receipt | None:
    """A receipt, only if its payment is this account's own (guessed numbers find nothing)."""
    return (
        Receipt.objects.select_related("payment__donor")
        .filter(number=number, payment__donor__user=user)
        .first()
    )


def giving_years(user: User) -> list[int]:
    """The years this account gave in, newest first (one statement each)."""
    years = (
        Payment.objects.filter(donor__user=user)
        .annotate(year=ExtractYear("paid_at"))
        .values_list("year", flat=True)
        .distinct()
        .order_by("-year")
    )
    return list(years)


def yearly_statement(user: User, year: int) -> YearStatement | None:
    """The account's payments in `year` with totals per currency, net of refunds.

    None when the account gave nothing that year (another member's year looks the same).
    """
    payments = (
        Payment.objects.filter(donor__user=user, paid_at__year=year)
        .select_related("receipt")
        .order_by("paid_at", "pk")
    )
    rows = (
        payments.order_by()
        .values("currency")
        .annotate(
            gross=Sum("amount"),
            refunded=Sum("amount_refunded"),
            net=Sum(F("amount") - F("amount_refunded")),
        )
        .order_by("currency")
    )
    totals = [
        CurrencyTotal(
            currency=row["currency"],
            gross=Money(int(row["gross"]), row["currency"]),
            refunded=Money(int(row["refunded"]), row["currency"]),
            net=Money(int(row["net"]), row["currency"]),
        )
        for row in rows
    ]
    if not totals:
        return None
    return YearStatement(year=year, payments=payments, totals=totals)


def billed_membership(user: User) -> Membership | None:
    """The account's paid membership whose first payment went through and that has not
    ended: the one the member can change, cancel or put a new card on."""
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(user=user, kind=MembershipKind.PAID, status__in=OPEN_STATUSES)
        .exclude(status=MembershipStatus.INCOMPLETE)
        .select_related("level")
        .first()
    )


@dataclass(frozen=True)
class RenewalToConfirm:
    """A renewal whose payment waits for the member's 3-D Secure."""

    invoice_id: str
    amount: Money


def renewal_to_confirm(membership: Membership) -> RenewalToConfirm | None:
    """The membership's open invoice whose PaymentIntent waits for authentication, as
    Stripe has it now (None when nothing waits: paid, declined, or never asked)."""
    if not membership.stripe_subscription_id:
        return None
    subscription = gateway.retrieve_subscription(membership.stripe_subscription_id)
    if not subscription.latest_invoice_id:
        return None
    invoice = gateway.retrieve_invoice(subscription.latest_invoice_id)
    if invoice.status != "open" or not invoice.payment_intent_id:
        return None
    if gateway.retrieve_payment_intent(invoice.payment_intent_id).status != "requires_action":
        return None
    return RenewalToConfirm(invoice.id, Money(invoice.amount_due, invoice.currency))


def gift_for_page(public_id) -> GiftMembership | None:
    return (
        GiftMembership.objects.select_related("donation__donor").filter(public_id=public_id).first()
    )


def level_for(amount: int, currency: str, interval: str) -> MembershipLevel | None:
    """The highest active level this amount reaches in its currency and interval."""
    price = (
        LevelAmount.objects.filter(
            currency=currency, interval=interval, amount__lte=amount, level__is_active=True
        )
        .select_related("level")
        .order_by("-amount")
        .first()
    )
    return price.level if price else None
