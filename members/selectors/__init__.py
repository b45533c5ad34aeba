"""Reads in members: memberships, levels, perks, newsletters, the supporters page."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, F, Min, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import ExtractYear
from django.utils import timezone

from members.models import (
    OPEN_STATUSES,
    GiftMembership,
    LevelAmount,
    Membership,
    MembershipLevel,
    Newsletter,
    NewsletterSubscription,
    User,
)
from members.states import PERK_STATUSES, Interval, MembershipKind, MembershipStatus
from payments import stripe_gateway as gateway
from payments.models import Payment, Receipt
from payments.money import Money
from payments.price_labels import short


def memberships_of(user: User) -> QuerySet[Membership]:
    """The account's memberships, newest first (paid, comp and gifts received)."""
    return Membership.objects.filter(user=user).select_related("level").order_by("-created_at")


def membership_of(user: User, public_id) -> Membership | None:
    """One membership, only if it is this account's own (guessed ids find nothing)."""
    return Membership.objects.filter(user=user, public_id=public_id).first()


def with_perks(now: datetime | None = None) -> Q:
    """Memberships that give perks now (as `Membership.has_perks` says, in SQL)."""
    return Q(status__in=PERK_STATUSES) & (
        Q(ends_at__isnull=True) | Q(ends_at__gt=now or timezone.now())
    )


def has_member_perks(user: User) -> bool:
    """Active, trialing or past-due paid memberships, and live comp or gift memberships."""
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(with_perks(), user=user).exists()


def offered_levels() -> list[MembershipLevel]:
    amounts = Prefetch("amounts", queryset=LevelAmount.objects.order_by("amount"))
    return list(MembershipLevel.objects.filter(is_active=True).prefetch_related(amounts))


def level_prices(levels: list[MembershipLevel]) -> dict[str, dict[str, dict[str, int]]]:
    """{level slug: {currency: {interval: amount}}} of these levels (from their
    prefetched amounts: no query)."""
    prices: dict[str, dict[str, dict[str, int]]] = {}
    for level in levels:
        for price in level.amounts.all():
            prices.setdefault(level.slug, {}).setdefault(price.currency, {})[price.interval] = (
                price.amount
            )
    return prices


@dataclass(frozen=True)
class JoinChoices:
    """What the join page offers in one currency and interval: a card per level (`level`,
    its `amount` there or None, `value` for the amount box, `price` as said, `checked`),
    every level's prices for the page's script (`level_prices`), and the amount that
    starts in the box."""

    cards: list[dict]
    prices: dict[str, dict[str, dict[str, int]]]
    amount: int | None


def join_choices(currency: str, interval: str, amount: int | None = None) -> JoinChoices:
    """The level cards, the card at `amount` checked. With no amount, the middle level
    priced here is checked and its price starts in the box (join.js does the same on a
    new currency or interval), so the button says the amount from the first paint."""
    levels = offered_levels()
    prices = level_prices(levels)
    cards = []
    for level in levels:
        price = prices.get(level.slug, {}).get(currency, {}).get(interval)
        cards.append(
            {
                "level": level,
                "amount": price,
                "value": str(Money(price, currency).as_decimal()) if price else "",
                "price": f"{short(price, currency)} a {interval}" if price else "",
                "checked": price is not None and price == amount,
            }
        )
    priced = [card for card in cards if card["amount"]]
    if amount is None and priced:
        middle = priced[(len(priced) - 1) // 2]
        middle["checked"], amount = True, middle["amount"]
    return JoinChoices(cards, prices, amount)


def started_join(user: User, public_id, started_here: list[str]) -> Membership | None:
    """The join a reader may confirm and see: their account's own, or a paid membership
    this browser started (`started_here`, a guest's). None for anything else, guessed
    ids included."""
    if user.is_authenticated:
        membership = membership_of(user, public_id)
        if membership is not None:
            return membership
    if str(public_id) not in started_here:
        return None
    return Membership.objects.filter(public_id=public_id, kind=MembershipKind.PAID).first()


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


def cheapest_monthly_levels() -> dict[str, MembershipLevel]:
    """{currency: the active level with the lowest monthly price there}: for each currency
    what `level_for(that price, currency, "month")` names (the level a gift membership
    gives), in one query."""
    levels: dict[str, MembershipLevel] = {}
    prices = (
        LevelAmount.objects.filter(interval=Interval.MONTH, level__is_active=True)
        .select_related("level")
        .order_by("currency", "amount", "level__position", "pk")
    )
    for price in prices:
        levels.setdefault(price.currency, price.level)
    return levels


# --- Newsletters -------------------------------------------------------------------------


def newsletters_offered(user: User, *, is_member: bool | None = None) -> list[Newsletter]:
    """The newsletters this reader may choose: public ones, and members-only ones too
    for a member. `is_member` saves the query when the caller already knows."""
    if is_member is None:
        is_member = has_member_perks(user)
    offered = Newsletter.objects.filter(is_active=True)
    if not is_member:
        offered = offered.filter(members_only=False)
    return list(offered)


def newsletter_slugs_of(user: User) -> set[str]:
    """The slugs of the newsletters the reader is on."""
    return set(
        NewsletterSubscription.objects.filter(user=user).values_list("newsletter__slug", flat=True)
    )


@dataclass(frozen=True)
class Subscriber:
    email: str
    name: str
    since: datetime


def newsletter_subscribers(newsletter: Newsletter) -> Iterator[Subscriber]:
    """Who is on the list, oldest first, for the mailing tool's CSV; read in chunks.

    Only accounts that can still sign in, and for a members-only list only those with
    perks now (one whose membership ended since is left out, even before the change
    that drops them has run)."""
    rows = NewsletterSubscription.objects.filter(newsletter=newsletter, user__is_active=True)
    if newsletter.members_only:
        perks = Membership.objects.filter(with_perks(), user=OuterRef("user"))
        rows = rows.filter(Exists(perks))
    rows = rows.order_by("subscribed_at", "pk").values_list(
        "user__email", "user__display_name", "subscribed_at"
    )
    for email, name, since in rows.iterator(chunk_size=2000):
        yield Subscriber(email, name, since)


# --- The supporters page -----------------------------------------------------------------


def supporters_wall() -> QuerySet:
    """Members who chose to be listed, by name, longest-standing first: only while a
    membership of theirs has perks (the earliest start among those is "member since").

    Rows: `display_name`, `member_since`, `level_name` (None unless their level is named
    on the page). Never an email address.
    """
    now = timezone.now()
    live = Membership.objects.filter(with_perks(now), user=OuterRef("pk"))
    named_level = (
        live.filter(level__shown_on_supporters_wall=True)
        .order_by("-level__position", "-starts_at")
        .values("level__name")[:1]
    )
    since = live.order_by().values("user").annotate(first=Min("starts_at")).values("first")[:1]
    return (
        User.objects.filter(on_supporters_wall=True, is_active=True)
        .exclude(display_name="")
        .annotate(member_since=Subquery(since), level_name=Subquery(named_level))
        .filter(member_since__isnull=False)
        .order_by("member_since", "display_name", "pk")
        .values("display_name", "member_since", "level_name")
    )
