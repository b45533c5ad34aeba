"""Reads in members: memberships, levels, perks."""

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from members.models import LevelAmount, Membership, MembershipLevel, User
from members.states import PERK_STATUSES


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
