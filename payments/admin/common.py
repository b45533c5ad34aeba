"""What the money lists share: cells, filters and totals (members' admin uses them too)."""

from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Count, Exists, F, OuterRef, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from config.admin_base import (
    CsvColumn,
    CsvExportMixin,
    IndexedSearchMixin,
    KnownValuesFilter,
    LargeListMixin,
    ListTotalsMixin,
    ReadOnlyAdmin,
    TextFilter,
    Totals,
)
from payments.currencies import offered_currencies
from payments.models import Dispute
from payments.money import Money
from payments.states import CLOSED_DISPUTE_STATUSES
from payments.stripe_gateway import dashboard_url


class MoneyListAdmin(
    LargeListMixin, CsvExportMixin, ListTotalsMixin, IndexedSearchMixin, ReadOnlyAdmin
):
    """A list of money (gifts, the ledger, refunds, disputes): large, exported as CSV,
    with totals per currency, found by Stripe id, written only from Stripe's side."""

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj) -> str:
        return str(Money(obj.amount, obj.currency))


def money_or_dash(amount: int | None, currency: str | None) -> str:
    """`$15.00`, or a dash where there is no amount (a fee not known yet, a comp)."""
    return str(Money(amount, currency)) if amount is not None and currency else "—"


def short_time(moment) -> str:
    """`26 Nov 2026 14:03`, local time: one short line in a list."""
    return date_format(timezone.localtime(moment), "j M Y H:i") if moment else "—"


def stripe_link(kind: str, stripe_id: str | None, label: str = "Stripe ↗") -> str:
    """The object's page in Stripe's dashboard, in a new tab; a dash without an id."""
    url = dashboard_url(kind, stripe_id)
    if url is None:
        return "—"
    return format_html(
        '<a href="{}" target="_blank" rel="noopener" title="{} in Stripe">{}</a>',
        url,
        stripe_id,
        label,
    )


def lines(*parts) -> str:
    """Short lines in one table cell (empty parts left out)."""
    return format_html_join("", '<span class="cell-line">{}</span>', ((p,) for p in parts if p))


def attribution_cell(obj) -> str:
    """The article and campaign as one cell, each a link to the list filtered by it."""
    parts = []
    if obj.article_slug:
        parts.append(
            format_html(
                '<a href="?{}">{}</a>', urlencode({"article": obj.article_slug}), obj.article_slug
            )
        )
    if obj.campaign:
        parts.append(
            format_html(
                '<a href="?{}" class="muted">{}</a>',
                urlencode({"campaign": obj.campaign}),
                obj.campaign,
            )
        )
    return lines(*parts) if parts else "—"


def money_csv_cell(currency_lookup: str = "currency"):
    """A CSV cell in major units, as a spreadsheet reads a number: "15.00" (JPY "1500")."""

    def cell(value, row: dict) -> str:
        if value is None or not row[currency_lookup]:
            return ""
        return str(Money(int(value), row[currency_lookup]).as_decimal())

    return cell


def money_column(header: str, lookup: str, currency_lookup: str = "currency") -> CsvColumn:
    return CsvColumn(header, lookup, money_csv_cell(currency_lookup), needs=(currency_lookup,))


class CurrencyFilter(KnownValuesFilter):
    """`<field>__exact=USD`: the offered currencies (and the one asked for, in capitals;
    blank is all)."""

    def clean(self, given: str) -> str | None:
        return given.strip().upper() or None

    def choice_values(self) -> list[tuple[str, str]]:
        return [(code, code) for code in offered_currencies()]


class ArticleFilter(TextFilter):
    """`?article=<slug>`; `?article=` for rows that came from no article."""

    title = "article"
    parameter_name = "article"
    field = "article_slug"
    none_label = "No article"


class CampaignFilter(TextFilter):
    """`?campaign=<slug>`; `?campaign=` for rows that named no campaign."""

    title = "campaign"
    parameter_name = "campaign"
    field = "campaign"
    none_label = "No campaign"


def per_currency_totals(queryset, **sums: str) -> list[dict]:
    """One aggregate query over the rows, grouped by currency (never mixed)."""
    return list(
        queryset.order_by()
        .values("currency")
        .annotate(count=Count("pk"), **{name: Coalesce(Sum(f), 0) for name, f in sums.items()})
        .order_by("currency")
    )


def money_totals(
    queryset,
    *,
    caption: str,
    plural: str,
    sums: dict[str, str],
    columns: dict,
    per_currency: list[dict] | None = None,
) -> Totals:
    """The totals table of a money list: per currency (one GROUP BY query summing the
    fields in `sums`, unless `per_currency` gives those sums and counts already), how
    many rows, then a money cell per column. `columns` maps a header to the name of a
    sum, or to a function of the row's sums (a net, a total)."""

    def amount(row: dict, column) -> int:
        return column(row) if callable(column) else row[column]

    if per_currency is None:
        per_currency = per_currency_totals(queryset, **sums)
    return Totals(
        caption=caption,
        headers=["Currency", plural.capitalize(), *columns],
        rows=[
            [
                row["currency"],
                f"{row['count']:,}",
                *(str(Money(amount(row, column), row["currency"])) for column in columns.values()),
            ]
            for row in per_currency
        ],
        count=sum(row["count"] for row in per_currency),  # the list's count: no COUNT query
    )


def count_and_amount_totals(queryset, plural: str) -> Totals:
    """Totals of refunds or disputes listed: how many and how much, per currency."""
    return money_totals(
        queryset,
        caption=f"Totals of the {plural} listed (every page, whatever their status), per currency.",
        plural=plural,
        sums={"amount": "amount"},
        columns={"Amount": "amount"},
    )


class RefundedFilter(admin.SimpleListFilter):
    title = "refunded"
    parameter_name = "refunded"

    def lookups(self, request, model_admin):
        return [
            ("yes", "Refunded (any)"),
            ("partly", "Partly"),
            ("fully", "Fully"),
            ("no", "Not refunded"),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "yes":
                return queryset.filter(amount_refunded__gt=0)
            case "partly":
                return queryset.filter(amount_refunded__gt=0, amount_refunded__lt=F("amount"))
            case "fully":
                return queryset.filter(amount_refunded=F("amount"))
            case "no":
                return queryset.filter(amount_refunded=0)
        return queryset


class DisputedFilter(admin.SimpleListFilter):
    title = "disputed"
    parameter_name = "disputed"

    def lookups(self, request, model_admin):
        return [("yes", "Disputed (any)"), ("open", "Open dispute"), ("no", "Never disputed")]

    def queryset(self, request, queryset):
        disputes = Dispute.objects.filter(payment=OuterRef("pk"))
        match self.value():
            case "yes":
                return queryset.filter(Exists(disputes))
            case "open":
                return queryset.filter(Exists(disputes.exclude(status__in=CLOSED_DISPUTE_STATUSES)))
            case "no":
                return queryset.filter(~Exists(disputes))
        return queryset
