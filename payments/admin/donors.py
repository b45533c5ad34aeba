"""Suggested amounts, donors and the one-time gifts started on the page."""

from django.contrib import admin

from config.admin_base import (
    CsvColumn,
    CsvExportMixin,
    DateRangeFilter,
    IndexedSearchMixin,
    LargeListMixin,
    ReadOnlyAdmin,
    Totals,
)
from payments.admin.common import (
    ArticleFilter,
    CampaignFilter,
    CurrencyFilter,
    MoneyListAdmin,
    attribution_cell,
    lines,
    money_column,
    money_totals,
    short_time,
    stripe_link,
)
from payments.forms import MajorUnitAmountsForm
from payments.models import (
    Attribution,
    Donation,
    Donor,
    SuggestedAmount,
)
from payments.money import Money


@admin.register(SuggestedAmount)
class SuggestedAmountAdmin(admin.ModelAdmin):
    form = MajorUnitAmountsForm
    list_display = ["__str__", "currency", "position", "is_default"]
    list_editable = ["position", "is_default"]
    list_filter = ["currency"]


class HasAccountFilter(admin.SimpleListFilter):
    title = "account"
    parameter_name = "account"

    def lookups(self, request, model_admin):
        return [("yes", "Has an account"), ("no", "Guest")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(user__isnull=self.value() == "no")
        return queryset


@admin.register(Donor)
class DonorAdmin(LargeListMixin, CsvExportMixin, IndexedSearchMixin, ReadOnlyAdmin):
    """Donors. members/privacy_admin.py registers it again with the data-protection
    actions (export, erase), which reach memberships and gift memberships too."""

    list_display = ["email", "name", "user", "stripe", "created"]
    list_filter = [("created_at", DateRangeFilter), HasAccountFilter]
    search_fields = ["name", "email"]
    search_help_text = "An email address, a name, or a Stripe customer id (cus_)."
    email_search = ["email"]
    stripe_id_search = {"cus_": ["stripe_customer_id"]}
    list_select_related = ["user"]
    sortable_by = ["email"]  # unique index; newest first (the primary key) by default
    fields = ["email", "name", "user", "customer_link", "created_at"]
    readonly_fields = fields
    csv_columns = [
        CsvColumn("email", "email"),
        CsvColumn("name", "name"),
        CsvColumn("account", "user__email"),
        CsvColumn("stripe_customer", "stripe_customer_id"),
        CsvColumn("created_at", "created_at"),
    ]

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Donor) -> str:
        return short_time(obj.created_at)

    @admin.display(description="Stripe")
    def stripe(self, obj: Donor) -> str:
        return stripe_link("customer", obj.stripe_customer_id)

    @admin.display(description="Stripe customer")
    def customer_link(self, obj: Donor) -> str:
        return stripe_link("customer", obj.stripe_customer_id, obj.stripe_customer_id or "")


@admin.register(Donation)
class DonationAdmin(MoneyListAdmin):
    """Every one-time gift started on the page, paid or not (the ledger has the paid ones)."""

    list_display = [
        "created",
        "donor_cell",
        "total_display",
        "kind",
        "status",
        "attribution",
        "stripe",
    ]
    list_display_links = ["created"]
    list_filter = [
        ("created_at", DateRangeFilter),
        "status",
        ("currency", CurrencyFilter),
        "kind",
        ArticleFilter,
        CampaignFilter,
    ]
    search_fields = ["donor__name", "donor__email", "=public_id"]
    search_help_text = (
        "An email address, the donor's name, the gift's id, or a Stripe id (pi_, cus_)."
    )
    email_search = ["donor__email"]
    stripe_id_search = {
        "pi_": ["stripe_payment_intent_id"],
        "cus_": ["donor__stripe_customer_id"],
    }
    list_select_related = ["donor"]
    sortable_by = ["created"]
    list_defer = (*Attribution.LINK_FIELDS, "last_error", "client_ip")
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "public_id",
                    "donor",
                    "name",
                    "user",
                    "kind",
                    "status",
                    "amount_display",
                    "fee_cover_display",
                    "total_display",
                    "attempts",
                    "card_failures",
                    "last_error",
                    "client_ip",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        ("In Stripe", {"fields": ["payment_link"]}),
        ("Where it came from", {"fields": Donation.ATTRIBUTION_FIELDS}),
    ]
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]
    csv_name = "donations"
    csv_columns = [
        CsvColumn("created_at", "created_at"),
        CsvColumn("id", "public_id"),
        CsvColumn("email", "donor__email"),
        CsvColumn("name", "name"),
        CsvColumn("kind", "kind"),
        CsvColumn("status", "status"),
        CsvColumn("currency", "currency"),
        money_column("amount", "amount"),
        money_column("fee_cover", "fee_cover"),
        CsvColumn("attempts", "attempts"),
        CsvColumn("article", "article_slug"),
        CsvColumn("campaign", "campaign"),
        CsvColumn("utm_source", "utm_source"),
        CsvColumn("utm_medium", "utm_medium"),
        CsvColumn("utm_campaign", "utm_campaign"),
        CsvColumn("stripe_payment_intent", "stripe_payment_intent_id"),
    ]

    def list_totals(self, queryset) -> Totals:
        return money_totals(
            queryset,
            caption="Totals of the gifts listed (every page, whatever their status: filter "
            "by status Succeeded for money taken), per currency.",
            plural="gifts",
            sums={"gifts": "amount", "fee_cover": "fee_cover"},
            columns={
                "Amount": "gifts",
                "Fee cover": "fee_cover",
                "Total": lambda row: row["gifts"] + row["fee_cover"],
            },
        )

    @admin.display(description="Started", ordering="created_at")
    def created(self, obj: Donation) -> str:
        return short_time(obj.created_at)

    @admin.display(description="Donor", ordering="donor__email")
    def donor_cell(self, obj: Donation) -> str:
        return lines(obj.donor.email, obj.name)

    @admin.display(description="Fee cover")
    def fee_cover_display(self, obj: Donation) -> str:
        return str(Money(obj.fee_cover, obj.currency)) if obj.fee_cover else "—"

    @admin.display(description="Total", ordering="amount")
    def total_display(self, obj: Donation) -> str:
        return str(obj.total)

    @admin.display(description="Article / campaign", ordering="article_slug")
    def attribution(self, obj: Donation) -> str:
        return attribution_cell(obj)

    @admin.display(description="Stripe")
    def stripe(self, obj: Donation) -> str:
        return stripe_link("payment", obj.stripe_payment_intent_id)

    @admin.display(description="Payment in Stripe")
    def payment_link(self, obj: Donation) -> str:
        intent = obj.stripe_payment_intent_id
        return stripe_link("payment", intent, intent or "")
