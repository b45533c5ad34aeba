"""Membership figures for the revenue dashboard, aggregated in SQL.

Who counts (also shown on the dashboard):

- an active member: a paid membership joined on this site (not complimentary, not a
  gift, not a subscription created elsewhere in Stripe) whose status keeps the perks
  (active, trialing, past due);
- a new member in a period: such a membership that started in the period and was paid
  for (not one whose first payment never happened);
- a churned member: such a membership that ended in the period; churn rate = churned /
  members at the start of the period;
- MRR per currency: active and past-due paid memberships joined on this site, yearly ones
  in twelfths; ARR = 12 * MRR, computed exactly (12 * monthly + yearly).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, Trunc

from members.models import Membership
from members.states import (
    PERK_STATUSES,
    Interval,
    MembershipKind,
    MembershipOrigin,
    MembershipStatus,
)
from payments.selectors.revenue import Period

# Paid memberships of this site: the only ones counted as members, churn and MRR.
COUNTED = Q(kind=MembershipKind.PAID, origin=MembershipOrigin.SITE)
# Ever paid: everything but a join whose first payment never happened.
EVER_PAID = ~Q(status__in=[MembershipStatus.INCOMPLETE, MembershipStatus.EXPIRED])
# Recurring revenue: members whose subscription is billing (a trial pays nothing yet).
BILLING_STATUSES = (MembershipStatus.ACTIVE, MembershipStatus.PAST_DUE)


@dataclass(frozen=True)
class MemberCounts:
    active: int  # now
    comp: int  # complimentary memberships with perks, now
    gift: int  # gift memberships with perks, now
    at_start: int  # members when the period began
    new: int
    churned: int
    cancelling: int  # active now, set to end at the period's end

    @property
    def churn_rate(self) -> float | None:
        """Churned in the period / members at its start (None when there were none)."""
        return self.churned / self.at_start if self.at_start else None


def member_counts(period: Period, now: datetime) -> MemberCounts:
    """Every count in one query over memberships."""
    perks = Q(status__in=PERK_STATUSES) & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    counted = COUNTED & EVER_PAID
    at_start = (
        counted
        & Q(starts_at__lt=period.start)
        & (Q(ended_at__isnull=True) | Q(ended_at__gte=period.start))
    )
    figures = Membership.objects.aggregate(
        active=Count("pk", filter=COUNTED & perks),
        comp=Count("pk", filter=Q(kind=MembershipKind.COMP) & perks),
        gift=Count("pk", filter=Q(kind=MembershipKind.GIFT) & perks),
        at_start=Count("pk", filter=at_start),
        new=Count("pk", filter=counted & Q(starts_at__gte=period.start, starts_at__lt=period.end)),
        churned=Count(
            "pk",
            filter=counted
            & Q(status=MembershipStatus.CANCELED)
            & Q(ended_at__gte=period.start, ended_at__lt=period.end),
        ),
        cancelling=Count("pk", filter=COUNTED & perks & Q(cancel_at_period_end=True)),
    )
    return MemberCounts(**figures)


@dataclass(frozen=True)
class RecurringRevenue:
    currency: str
    members: int
    arr: int  # minor units a year: 12 * monthly amounts + yearly amounts, exact

    @property
    def mrr(self) -> int:
        """ARR / 12, rounded half up to the minor unit."""
        return (self.arr + 6) // 12


def recurring_revenue() -> list[RecurringRevenue]:
    """MRR and ARR now, per currency (never mixed), one query."""
    rows = (
        Membership.objects.filter(COUNTED, status__in=BILLING_STATUSES)
        .values("currency")
        .annotate(
            members=Count("pk"),
            monthly=Coalesce(Sum("amount", filter=Q(interval=Interval.MONTH)), 0),
            yearly=Coalesce(Sum("amount", filter=Q(interval=Interval.YEAR)), 0),
        )
        .order_by("currency")
    )
    return [
        RecurringRevenue(row["currency"], row["members"], 12 * row["monthly"] + row["yearly"])
        for row in rows
    ]


def new_members_series(period: Period) -> dict[datetime, int]:
    """New members per bucket (day, week or month) of the period."""
    rows = (
        Membership.objects.filter(
            COUNTED & EVER_PAID, starts_at__gte=period.start, starts_at__lt=period.end
        )
        .annotate(bucket=Trunc("starts_at", period.by))
        .values("bucket")
        .annotate(count=Count("pk"))
        .order_by("bucket")
    )
    return {row["bucket"]: row["count"] for row in rows}


def cancellation_reasons(period: Period) -> list[tuple[str, int]]:
    """Why members who ended in the period left, most given first ("" = not said)."""
    rows = (
        Membership.objects.filter(
            COUNTED,
            status=MembershipStatus.CANCELED,
            ended_at__gte=period.start,
            ended_at__lt=period.end,
        )
        .values("cancel_category")
        .annotate(count=Count("pk"))
        .order_by("-count", "cancel_category")
    )
    return [(row["cancel_category"], row["count"]) for row in rows]


def members_by_source(period: Period, source: str) -> dict[str, int]:
    """New members per article slug (`source="article_slug"`) or campaign, one query."""
    if source not in ("article_slug", "campaign"):
        raise ValueError(source)
    rows = (
        Membership.objects.filter(
            COUNTED & EVER_PAID, starts_at__gte=period.start, starts_at__lt=period.end
        )
        .exclude(**{source: ""})
        .values(source)
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {row[source]: row["count"] for row in rows}
