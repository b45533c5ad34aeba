"""Revenue figures from the ledger, aggregated in SQL, one currency at a time.

Never mixed across currencies: every figure takes a currency. A period is a half-open
range of aware datetimes [start, end). Definitions (also shown on the dashboard):

- gross: what was charged (ledger rows paid in the period);
- fees: Stripe's fees on those rows, where known;
- refunds: refunds that succeeded in the period (whenever the payment was);
- disputes: chargebacks opened in the period whose money Stripe withdrew (not won,
  not a mere inquiry);
- net: gross less fees, refunds and disputes.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, Trunc

from payments.models import Dispute, HourlyRevenue, Payment, Refund
from payments.money import Money
from payments.states import DisputeStatus, PaymentKind, RefundStatus

# Disputes whose amount Stripe takes back from the balance while they run, and keeps if lost.
WITHDRAWN_DISPUTE_STATUSES = frozenset(
    {
        DisputeStatus.NEEDS_RESPONSE,
        DisputeStatus.UNDER_REVIEW,
        DisputeStatus.LOST,
        DisputeStatus.APPEAL_NEEDS_RESPONSE,
        DisputeStatus.APPEAL_UNDER_REVIEW,
    }
)

BUCKETS = ("day", "week", "month")


@dataclass(frozen=True)
class Period:
    """[start, end) in aware datetimes, charted by `by` (day, week or month)."""

    start: datetime
    end: datetime
    by: str = "day"


@dataclass
class KindTotals:
    count: int = 0
    gross: int = 0
    fees: int = 0


@dataclass
class Revenue:
    """One currency's money for a period, with its series for the chart."""

    currency: str
    by_kind: dict[str, KindTotals] = field(default_factory=dict)
    refunds: int = 0
    refund_count: int = 0
    disputes: int = 0
    dispute_count: int = 0
    # bucket start -> kind -> gross
    series: dict[datetime, dict[str, int]] = field(default_factory=dict)

    def _sum(self, name: str) -> int:
        return sum(getattr(totals, name) for totals in self.by_kind.values())

    @property
    def gross(self) -> int:
        return self._sum("gross")

    @property
    def fees(self) -> int:
        return self._sum("fees")

    @property
    def payment_count(self) -> int:
        return self._sum("count")

    @property
    def net(self) -> int:
        return self.gross - self.fees - self.refunds - self.disputes

    def kind(self, kind: str) -> KindTotals:
        return self.by_kind.get(kind, KindTotals())

    @property
    def average_gift(self) -> int | None:
        """The average one-time gift, rounded to the minor unit (None without gifts)."""
        gifts = self.kind(PaymentKind.ONE_TIME)
        return (2 * gifts.gross + gifts.count) // (2 * gifts.count) if gifts.count else None

    def money(self, amount: int | None) -> Money | None:
        return None if amount is None else Money(amount, self.currency)


def _in_period(period: Period, field_name: str) -> Q:
    return Q(**{f"{field_name}__gte": period.start, f"{field_name}__lt": period.end})


def _on_the_hour(moment: datetime) -> bool:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0) == moment


def _ledger_by_bucket_and_kind(currency: str, period: Period):
    """Payments, gross and fees per bucket and kind: from the hourly sums (a few thousand
    rows a year) when the period starts and ends on the hour, as it does in any time zone
    whose offset is whole hours; from the ledger itself otherwise."""
    if _on_the_hour(period.start) and _on_the_hour(period.end):
        return (
            HourlyRevenue.objects.filter(_in_period(period, "hour"), currency=currency)
            .annotate(bucket=Trunc("hour", period.by))
            .values("bucket", "kind")
            .annotate(count=Sum("payments"), gross=Sum("gross"), fees=Sum("fees"))
            .order_by()
        )
    return (
        Payment.objects.filter(_in_period(period, "paid_at"), currency=currency)
        .annotate(bucket=Trunc("paid_at", period.by))
        .values("bucket", "kind")
        .annotate(count=Count("pk"), gross=Sum("amount"), fees=Coalesce(Sum("fee"), 0))
        .order_by()
    )


def revenue(currency: str, period: Period) -> Revenue:
    """Gross and fees by kind and by bucket, refunds and disputes: three queries whatever
    the size of the ledger."""
    result = Revenue(currency)
    rows = _ledger_by_bucket_and_kind(currency, period)
    series: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        totals = result.by_kind.setdefault(row["kind"], KindTotals())
        totals.count += row["count"]
        totals.gross += row["gross"]
        totals.fees += row["fees"]
        series[row["bucket"]][row["kind"]] += row["gross"]
    result.series = {bucket: dict(kinds) for bucket, kinds in sorted(series.items())}

    refunds = Refund.objects.filter(
        _in_period(period, "created_at"), currency=currency, status=RefundStatus.SUCCEEDED
    ).aggregate(total=Coalesce(Sum("amount"), 0), count=Count("pk"))
    result.refunds, result.refund_count = refunds["total"], refunds["count"]

    disputes = Dispute.objects.filter(
        _in_period(period, "opened_at"),
        currency=currency,
        status__in=WITHDRAWN_DISPUTE_STATUSES,
    ).aggregate(total=Coalesce(Sum("amount"), 0), count=Count("pk"))
    result.disputes, result.dispute_count = disputes["total"], disputes["count"]
    return result


@dataclass(frozen=True)
class SourceMoney:
    """What one article or campaign brought in a period, in one currency."""

    gifts: int  # one-time gifts (ledger rows of kind one_time)
    payments: int  # every ledger row (gifts, first membership payments, renewals...)
    amount: int


def money_by_source(currency: str, period: Period, source: str) -> dict[str, SourceMoney]:
    """Ledger money per article slug (`source="article_slug"`) or campaign, one query."""
    if source not in ("article_slug", "campaign"):
        raise ValueError(source)
    rows = (
        Payment.objects.filter(_in_period(period, "paid_at"), currency=currency)
        .exclude(**{source: ""})
        .values(source)
        .annotate(
            gifts=Count("pk", filter=Q(kind=PaymentKind.ONE_TIME)),
            payments=Count("pk"),
            amount=Sum("amount"),
        )
        .order_by()
    )
    return {row[source]: SourceMoney(row["gifts"], row["payments"], row["amount"]) for row in rows}


def ledger_totals(
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    currency: str | None = None,
    kind: str | None = None,
) -> list[dict] | None:
    """Per currency, the ledger rows paid in [start, end) (a bound may be None: open) in
    `currency` and of `kind` (None: any): {"currency", "count", "gross", "fees",
    "refunded"}, ordered by currency. From the hourly sums and the refunded rows alone (a
    partial index), never a pass over the ledger: what its admin list totals when it is
    filtered only by these. None when a bound is not on the hour (sum the rows instead)."""
    if any(bound is not None and not _on_the_hour(bound) for bound in (start, end)):
        return None
    hourly, paid = Q(), Q(amount_refunded__gt=0)
    for name, value in (("gte", start), ("lt", end)):
        if value is not None:
            hourly &= Q(**{f"hour__{name}": value})
            paid &= Q(**{f"paid_at__{name}": value})
    for name, value in (("currency", currency), ("kind", kind)):
        if value is not None:
            hourly &= Q(**{name: value})
            paid &= Q(**{name: value})
    rows = {
        row["currency"]: {**row, "refunded": 0}
        for row in HourlyRevenue.objects.filter(hourly)
        .values("currency")
        .annotate(count=Sum("payments"), gross=Sum("gross"), fees=Sum("fees"))
        .order_by()
        if row["count"]
    }
    refunded = (
        Payment.objects.filter(paid)
        .values("currency")
        .annotate(refunded=Sum("amount_refunded"))
        .order_by()
    )
    for row in refunded:
        if row["currency"] in rows:
            rows[row["currency"]]["refunded"] = row["refunded"]
    return [rows[code] for code in sorted(rows)]
