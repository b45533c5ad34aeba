"""The revenue dashboard in admin (journey 10) and its summary on the admin index.

It composes each app's read functions (payments: the ledger's money; members: members,
churn, MRR; content: top articles and campaigns) for one period and one currency, and
links every figure to the admin list behind it. Staff need `payments.view_revenue`.
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from config.charts import Column, bar_chart
from content.selectors.top_sources import SORTS, TopSource, top_sources
from members.selectors import figures as member_figures
from members.states import CancelReason, MembershipKind, MembershipOrigin, MembershipStatus
from payments.currencies import currency_choices, default_currency
from payments.money import Money
from payments.selectors import revenue as ledger
from payments.selectors.revenue import BUCKETS, Period
from payments.states import PaymentKind, RefundStatus

PERIODS = [
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("this_year", "This year"),
    ("last_year", "Last year"),
    ("custom", "Custom dates"),
]
LONGEST_PERIOD_DAYS = 366 * 10
KIND_CLASSES = {
    PaymentKind.ONE_TIME: "one-time",
    PaymentKind.MEMBERSHIP: "membership",
    PaymentKind.GIFT: "gift",
}


class DashboardForm(forms.Form):
    period = forms.ChoiceField(choices=PERIODS, required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Included.",
    )
    currency = forms.ChoiceField(choices=currency_choices, required=False)
    by = forms.ChoiceField(
        choices=[("", "Automatic"), *[(b, f"By {b}") for b in BUCKETS]], required=False
    )
    sort = forms.ChoiceField(choices=[(name, f"Top by {name}") for name in SORTS], required=False)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("period") != "custom":
            return data
        start, end = data.get("start"), data.get("end")
        if start is None:
            self.add_error("start", "Give the first day of the period.")
        if end is None:
            self.add_error("end", "Give the last day of the period.")
        if start and end:
            if end < start:
                self.add_error("end", "The last day comes before the first.")
            elif (end - start).days > LONGEST_PERIOD_DAYS:
                self.add_error("end", "Choose at most ten years.")
        return data


def period_dates(name: str, today: date, start=None, end=None) -> tuple[date, date]:
    """The period's first day and the day after its last."""
    month_start = today.replace(day=1)
    if name == "last_month":
        previous = (month_start - timedelta(days=1)).replace(day=1)
        return previous, month_start
    if name == "this_year":
        return today.replace(month=1, day=1), today.replace(year=today.year + 1, month=1, day=1)
    if name == "last_year":
        return date(today.year - 1, 1, 1), date(today.year, 1, 1)
    if name == "custom":
        return start, end + timedelta(days=1)
    days = calendar.monthrange(today.year, today.month)[1]
    return month_start, month_start + timedelta(days=days)


# The longest period each bar width is drawn for (a chart of ~100 bars at most).
LONGEST_BY = {"day": 92, "week": 732}


def automatic_bucket(first: date, after: date) -> str:
    days = (after - first).days
    return "day" if days <= 62 else "week" if days <= 190 else "month"


def drawable_bucket(wanted: str, first: date, after: date) -> str:
    """`wanted`, or the next wider bar when the period would need too many."""
    days = (after - first).days
    for by in BUCKETS[BUCKETS.index(wanted) :]:
        if days <= LONGEST_BY.get(by, days):
            return by
    return BUCKETS[-1]


def bucket_starts(first: date, after: date, by: str) -> list[date]:
    """Every bucket's first day, as the database's truncation names them."""
    if by == "week":
        current = first - timedelta(days=first.weekday())
    elif by == "month":
        current = first.replace(day=1)
    else:
        current = first
    starts = []
    while current < after:
        starts.append(current)
        if by == "week":
            current += timedelta(days=7)
        elif by == "month":
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            current += timedelta(days=1)
    return starts


def aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


class Links:
    """Admin list addresses with the filters behind a figure, for staff who may see them."""

    def __init__(self, request: HttpRequest) -> None:
        self.user = request.user

    def to(self, model: str, **params) -> str:
        app, name = model.split(".")
        if not self.user.has_perm(f"{app}.view_{name}"):
            return ""
        query = urlencode({key: value for key, value in params.items() if value is not None})
        return f"{reverse(f'admin:{app}_{name}_changelist')}?{query}"


def _between(field: str, first: datetime, after: datetime) -> dict[str, str]:
    return {f"{field}__gte": str(first), f"{field}__lt": str(after)}


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    href: str = ""
    note: str = ""


def _money_figures(
    money: ledger.Revenue, links: Links, period: Period
) -> tuple[list[Figure], list[Figure]]:
    """The headline money figures and the split by kind."""
    paid = {"currency__exact": money.currency, **_between("paid_at", period.start, period.end)}
    show = money.money
    headline = [
        Figure("Gross", str(show(money.gross)), links.to("payments.payment", **paid)),
        Figure(
            "Refunds",
            str(show(-money.refunds)),
            links.to(
                "payments.refund",
                currency__exact=money.currency,
                status__exact=RefundStatus.SUCCEEDED,
                **_between("created_at", period.start, period.end),
            ),
            f"{money.refund_count} refund(s)",
        ),
        Figure(
            "Disputes",
            str(show(-money.disputes)),
            links.to(
                "payments.dispute",
                currency__exact=money.currency,
                status__in=",".join(sorted(ledger.WITHDRAWN_DISPUTE_STATUSES)),
                **_between("opened_at", period.start, period.end),
            ),
            f"{money.dispute_count} dispute(s)",
        ),
        Figure("Fees", str(show(-money.fees)), links.to("payments.payment", **paid)),
        Figure("Net", str(show(money.net)), links.to("payments.payment", **paid)),
    ]
    by_kind = []
    for kind, label in PaymentKind.choices:
        totals = money.kind(kind)
        by_kind.append(
            Figure(
                label,
                str(show(totals.gross)),
                links.to("payments.payment", kind__exact=kind, **paid),
                f"{totals.count} payment(s)",
            )
        )
    average = money.average_gift
    by_kind.append(
        Figure(
            "Average one-time gift",
            str(show(average)) if average is not None else "—",
            links.to("payments.payment", kind__exact=PaymentKind.ONE_TIME, **paid),
            f"{money.kind(PaymentKind.ONE_TIME).count} gift(s)",
        )
    )
    return headline, by_kind


def _member_figures(counts: member_figures.MemberCounts, links: Links, period: Period):
    counted = {"kind__exact": MembershipKind.PAID, "origin__exact": MembershipOrigin.SITE}
    rate = counts.churn_rate
    churned_href = links.to(
        "members.membership",
        **counted,
        status__exact=MembershipStatus.CANCELED,
        **_between("ended_at", period.start, period.end),
    )
    return [
        Figure(
            "Active members", f"{counts.active:,}", links.to("members.membership", counted="active")
        ),
        Figure(
            "New members",
            f"{counts.new:,}",
            links.to(
                "members.membership",
                **counted,
                status__in=",".join(
                    s
                    for s in MembershipStatus.values
                    if s not in (MembershipStatus.INCOMPLETE, MembershipStatus.EXPIRED)
                ),
                **_between("starts_at", period.start, period.end),
            ),
        ),
        Figure("Churned members", f"{counts.churned:,}", churned_href),
        Figure(
            "Churn rate",
            f"{rate:.1%}" if rate is not None else "—",
            churned_href,
            f"of {counts.at_start:,} members at the start",
        ),
        Figure(
            "Ending at period end",
            f"{counts.cancelling:,}",
            links.to("members.membership", counted="active", cancel_at_period_end__exact="1"),
        ),
        Figure(
            "Complimentary",
            f"{counts.comp:,}",
            links.to("members.membership", kind__exact=MembershipKind.COMP),
        ),
        Figure(
            "Gift memberships",
            f"{counts.gift:,}",
            links.to("members.membership", kind__exact=MembershipKind.GIFT),
        ),
    ]


def _charts(money: ledger.Revenue, new_members: dict, period: Period, links: Links):
    first, after = local_day(period.start), local_day(period.end)
    starts = bucket_starts(first, after, period.by)
    by_day = {local_day(bucket): kinds for bucket, kinds in money.series.items()}
    members_by_day = {local_day(bucket): count for bucket, count in new_members.items()}
    label_format = "%b %Y" if period.by == "month" else "%-d %b"
    revenue_columns, member_columns = [], []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else after
        bounds = (aware(max(start, first)), aware(min(end, after)))
        kinds = by_day.get(start, {})
        label = start.strftime(label_format)
        revenue_columns.append(
            Column(
                label,
                [(KIND_CLASSES[k], kinds.get(k, 0), str(lbl)) for k, lbl in PaymentKind.choices],
                links.to(
                    "payments.payment",
                    currency__exact=money.currency,
                    **_between("paid_at", *bounds),
                ),
            )
        )
        member_columns.append(
            Column(
                label,
                [("members", members_by_day.get(start, 0), "new members")],
                links.to(
                    "members.membership",
                    kind__exact=MembershipKind.PAID,
                    origin__exact=MembershipOrigin.SITE,
                    **_between("starts_at", *bounds),
                ),
            )
        )
    return (
        bar_chart(
            f"Revenue by {period.by} ({money.currency})",
            revenue_columns,
            lambda value: str(money.money(value)),
        ),
        bar_chart(f"New members by {period.by}", member_columns, lambda value: f"{value:,}"),
    )


def _source_rows(rows: list[TopSource], field: str, period: Period, links: Links):
    for row in rows:
        paid = _between("paid_at", period.start, period.end)
        yield {
            "row": row,
            "money_href": links.to(
                "payments.payment", currency__exact=row.currency, **{field: row.slug}, **paid
            ),
            "members_href": links.to(
                "members.membership",
                kind__exact=MembershipKind.PAID,
                origin__exact=MembershipOrigin.SITE,
                **{field: row.slug},
                **_between("starts_at", period.start, period.end),
            ),
        }


def figures_for(request: HttpRequest, data: dict) -> dict:
    """Everything the dashboard shows for the form's cleaned data."""
    today = timezone.localdate()
    name = data.get("period") or "this_month"
    first, after = period_dates(name, today, data.get("start"), data.get("end"))
    wanted = data.get("by") or automatic_bucket(first, after)
    by = drawable_bucket(wanted, first, after)
    period = Period(aware(first), aware(after), by)
    currency = data.get("currency") or default_currency().code
    sort = data.get("sort") or "money"
    links = Links(request)

    money = ledger.revenue(currency, period)
    counts = member_figures.member_counts(period, timezone.now())
    headline, by_kind = _money_figures(money, links, period)
    revenue_chart, members_chart = _charts(
        money, member_figures.new_members_series(period), period, links
    )
    reasons = [
        {
            "label": CancelReason(category).label if category else "Not given",
            "count": count,
            "href": links.to(
                "members.membership",
                kind__exact=MembershipKind.PAID,
                origin__exact=MembershipOrigin.SITE,
                status__exact=MembershipStatus.CANCELED,
                cancel_category__exact=category,
                **_between("ended_at", period.start, period.end),
            ),
        }
        for category, count in member_figures.cancellation_reasons(period)
    ]
    recurring = [
        {
            "currency": row.currency,
            "members": row.members,
            "mrr": Money(row.mrr, row.currency),
            "arr": Money(row.arr, row.currency),
            "href": links.to(
                "members.membership",
                kind__exact=MembershipKind.PAID,
                origin__exact=MembershipOrigin.SITE,
                status__in=",".join(member_figures.BILLING_STATUSES),
                currency__exact=row.currency,
            ),
        }
        for row in member_figures.recurring_revenue()
    ]
    return {
        "period": period,
        "period_name": name,
        "bucket_note": (
            f"Shown by {by}: a bar a {wanted} would be too thin over this period."
            if by != wanted
            else ""
        ),
        "first_day": first,
        "last_day": after - timedelta(days=1),
        "currency": currency,
        "sort": sort,
        "headline": headline,
        "by_kind": by_kind,
        "members": _member_figures(counts, links, period),
        "recurring": recurring,
        "reasons": reasons,
        "revenue_chart": revenue_chart,
        "members_chart": members_chart,
        "top_articles": list(
            _source_rows(
                top_sources("article_slug", currency, period, sort=sort), "article", period, links
            )
        ),
        "top_campaigns": list(
            _source_rows(
                top_sources("campaign", currency, period, sort=sort), "campaign", period, links
            )
        ),
    }


def require_revenue_permission(request: HttpRequest) -> None:
    if not request.user.has_perm("payments.view_revenue"):
        raise PermissionDenied("You may not see revenue figures.")


def revenue_dashboard(request: HttpRequest, context: dict) -> HttpResponse:
    """The page: the form, and the figures when the form is valid (400 and its errors
    otherwise). `context` is the admin site's (header, navigation)."""
    require_revenue_permission(request)
    form = DashboardForm(request.GET or None)
    status = 200
    figures: dict = {}
    if not request.GET:
        form = DashboardForm(initial={"period": "this_month"})
        figures = figures_for(request, {})
    elif form.is_valid():
        figures = figures_for(request, form.cleaned_data)
    else:
        status = 400
    query = request.GET.copy()
    query.pop("sort", None)
    return TemplateResponse(
        request,
        "admin/revenue_dashboard.html",
        {
            **context,
            "title": "Revenue",
            "form": form,
            "sort_choices": [(name, name.capitalize()) for name in SORTS],
            "sort_query": query.urlencode(),
            **figures,
        },
        status=status,
    )


def index_summary(request: HttpRequest) -> dict | None:
    """This month's headline figures for the admin index, or None without the permission."""
    if not request.user.has_perm("payments.view_revenue"):
        return None
    today = timezone.localdate()
    first, after = period_dates("this_month", today)
    period = Period(aware(first), aware(after), "day")
    links = Links(request)
    currency = default_currency().code
    money = ledger.revenue(currency, period)
    counts = member_figures.member_counts(period, timezone.now())
    headline, _ = _money_figures(money, links, period)
    members = _member_figures(counts, links, period)
    return {
        "month": first,
        "currency": currency,
        "figures": [
            headline[0],
            headline[-1],
            *members[:3],
            *(
                Figure(f"MRR {row.currency}", str(Money(row.mrr, row.currency)))
                for row in member_figures.recurring_revenue()
            ),
        ],
    }
