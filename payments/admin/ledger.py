"""The ledger (read-only), its refunds (asked from here) and disputes, and receipts."""

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ALL_VAR, ORDER_VAR
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from config.admin_base import (
    CsvColumn,
    DateRangeFilter,
    IndexedSearchMixin,
    KnownValuesFilter,
    LargeListMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    Totals,
)
from config.errors import Refused
from payments.admin.common import (
    ArticleFilter,
    CampaignFilter,
    CurrencyFilter,
    DisputedFilter,
    MoneyListAdmin,
    RefundedFilter,
    attribution_cell,
    count_and_amount_totals,
    lines,
    money_column,
    money_or_dash,
    money_totals,
    short_time,
    stripe_link,
)
from payments.models import (
    Attribution,
    Dispute,
    Payment,
    Receipt,
    Refund,
)
from payments.money import Money, parse_major_amount
from payments.selectors import revenue
from payments.services import refunds
from payments.states import CLOSED_DISPUTE_STATUSES, PaymentKind, RefundStatus
from payments.tasks import send_receipt

# The reasons Stripe gives a dispute (its `reason` field), for the list's filter.
DISPUTE_REASONS = [
    (reason, reason.replace("_", " ").capitalize())
    for reason in (
        "bank_cannot_process",
        "check_returned",
        "credit_not_processed",
        "customer_initiated",
        "debit_not_authorized",
        "duplicate",
        "fraudulent",
        "general",
        "incorrect_account_details",
        "insufficient_funds",
        "noncompliant",
        "product_not_received",
        "product_unacceptable",
        "subscription_canceled",
        "unrecognized",
    )
]


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["refund_link", "amount_display", "status", "reason", "requested_by", "created_at"]
    readonly_fields = fields

    @admin.display(description="Refund")
    def refund_link(self, obj: Refund) -> str:
        return stripe_link("refund", obj.stripe_refund_id, obj.stripe_refund_id)

    @admin.display(description="Amount")
    def amount_display(self, obj: Refund) -> str:
        return str(Money(obj.amount, obj.currency))


class DisputeInline(ReadOnlyInline):
    model = Dispute
    fields = ["dispute_link", "amount_display", "reason", "status", "opened_at"]
    readonly_fields = fields

    @admin.display(description="Dispute")
    def dispute_link(self, obj: Dispute) -> str:
        return stripe_link("dispute", obj.stripe_dispute_id, obj.stripe_dispute_id)

    @admin.display(description="Amount")
    def amount_display(self, obj: Dispute) -> str:
        return str(Money(obj.amount, obj.currency))


class RefundForm(forms.Form):
    amount = forms.CharField(max_length=20, help_text="In the payment's currency, e.g. 5 or 5.50.")
    reason = forms.ChoiceField(
        choices=refunds.RefundReason.choices,
        initial=refunds.RefundReason.REQUESTED_BY_CUSTOMER,
        help_text="Sent to Stripe with the refund.",
    )
    note = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why, in your words: kept here for the team, not sent to Stripe or the donor.",
    )
    # Gift payments only: a full refund always ends the gift membership; a partial one
    # ends it only if staff say so (a decision, not a default).
    end_gift = forms.TypedChoiceField(
        label="Also end the gift membership",
        choices=[("yes", "Yes: end the gift membership now"), ("no", "No: it carries on")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        required=False,
        help_text="For a partial refund. A full refund always ends the gift membership "
        "(and the recipient's membership, if claimed).",
    )
    # One per rendered form: a double submission refunds once.
    request_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, payment: Payment, refundable: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.refundable = refundable  # neither refunded nor asked for already
        if not self.is_gift:
            del self.fields["end_gift"]

    @property
    def is_gift(self) -> bool:
        return self.payment.kind == PaymentKind.GIFT

    def clean_amount(self) -> int:
        try:
            return parse_major_amount(self.cleaned_data["amount"], self.payment.currency)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict:
        cleaned = super().clean()
        amount = cleaned.get("amount")
        if not self.is_gift or amount is None:
            return cleaned
        if amount >= self.refundable:
            cleaned["end_gift"] = True  # a full refund ends the gift
        elif cleaned.get("end_gift") in (None, ""):
            self.add_error("end_gift", "A partial refund: choose whether the gift membership ends.")
        return cleaned


def _filter(changelist, kind: type):
    """The list's filter of this class (each money list has one of each it uses)."""
    return next(spec for spec in changelist.filter_specs if isinstance(spec, kind))


@admin.register(Payment)
class PaymentAdmin(MoneyListAdmin):
    """The ledger: one row per successful charge. Filters take the parameters the revenue
    dashboard links with (paid_at__gte/__lt, currency__exact, kind__exact, article,
    campaign, refunded, disputed); staff with `payments.view_revenue` see the totals of
    the filtered rows, per currency."""

    # What a row does not show, left unread for the list (the detail page has them)
    list_defer = tuple(Attribution.LINK_FIELDS)
    list_display = [
        "paid",
        "donor_cell",
        "amount_display",
        "net_display",
        "refunds_disputes",
        "kind",
        "attribution",
        "stripe",
    ]
    list_display_links = ["paid"]
    list_filter = [
        ("paid_at", DateRangeFilter),
        ("currency", CurrencyFilter),
        "kind",
        RefundedFilter,
        DisputedFilter,
        ArticleFilter,
        CampaignFilter,
    ]
    search_fields = ["donor__name", "donor__email"]
    search_help_text = "An email address, a name, or a Stripe id (pi_, ch_, in_, cus_)."
    email_search = ["donor__email"]
    stripe_id_search = {
        "pi_": ["stripe_payment_intent_id"],
        "ch_": ["stripe_charge_id"],
        "py_": ["stripe_charge_id"],
        "in_": ["stripe_invoice_id"],
        "cus_": ["donor__stripe_customer_id"],
    }
    list_select_related = ["donor"]
    sortable_by = ["paid"]  # the ledger's index; other sorts would scan a million rows
    inlines = [RefundInline, DisputeInline]
    actions = ["resend_receipts"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "donor",
                    "donor_name",
                    "kind",
                    "amount_display",
                    "fee_display",
                    "net_display",
                    "refunded_display",
                    "donation",
                    "paid_at",
                    "created_at",
                ]
            },
        ),
        ("In Stripe", {"fields": ["payment_link", "charge_link", "invoice_link", "customer_link"]}),
        ("Where it came from", {"fields": Payment.ATTRIBUTION_FIELDS}),
    ]
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]
    csv_name = "ledger"
    csv_columns = [
        CsvColumn("paid_at", "paid_at"),
        CsvColumn("id", "pk"),
        CsvColumn("email", "donor__email"),
        CsvColumn("name", "donor__name"),
        CsvColumn("kind", "kind"),
        CsvColumn("currency", "currency"),
        money_column("amount", "amount"),
        money_column("fee", "fee"),
        money_column("net", "net"),
        money_column("refunded", "amount_refunded"),
        CsvColumn("open_dispute", "has_open_dispute"),
        CsvColumn("article", "article_slug"),
        CsvColumn("campaign", "campaign"),
        CsvColumn("utm_source", "utm_source"),
        CsvColumn("utm_medium", "utm_medium"),
        CsvColumn("utm_campaign", "utm_campaign"),
        CsvColumn("stripe_payment_intent", "stripe_payment_intent_id"),
        CsvColumn("stripe_charge", "stripe_charge_id"),
        CsvColumn("stripe_invoice", "stripe_invoice_id"),
        CsvColumn("stripe_customer", "donor__stripe_customer_id"),
    ]

    def get_queryset(self, request: HttpRequest):
        disputes = Dispute.objects.filter(payment=OuterRef("pk"))
        open_disputes = disputes.exclude(status__in=CLOSED_DISPUTE_STATUSES)
        return (
            super()
            .get_queryset(request)
            .annotate(has_dispute=Exists(disputes), has_open_dispute=Exists(open_disputes))
        )

    def list_totals(self, queryset, per_currency: list[dict] | None = None) -> Totals:
        return money_totals(
            queryset,
            caption="Totals of the payments listed (every page), per currency. "
            "Net: gross less refunds and fees.",
            plural="payments",
            sums={"gross": "amount", "refunded": "amount_refunded", "fees": "fee"},
            columns={
                "Gross": "gross",
                "Refunded": "refunded",
                "Fees": "fees",
                "Net": lambda row: row["gross"] - row["refunded"] - row["fees"],
            },
            per_currency=per_currency,
        )

    # Filters the hourly sums answer (with the refunded rows): the whole ledger, a period
    # from the dashboard, a currency, a kind. Anything else sums the rows themselves.
    SUMMED_BY_THE_HOUR = {"paid_at__gte", "paid_at__lt", "currency__exact", "kind__exact"}

    def totals_of(self, changelist) -> Totals:
        """The whole ledger, or a period, currency or kind of it, totalled from the
        hourly sums (payments/selectors/revenue.py), not from a million rows."""
        params = changelist.params
        if not changelist.query and set(params) <= self.SUMMED_BY_THE_HOUR | {ORDER_VAR, ALL_VAR}:
            # The period and currency as the list's own filters read them
            dates = _filter(changelist, DateRangeFilter)
            kind = params.get("kind__exact") or None
            # The filter ignores a wrong date; so do the rows' totals (summed from the rows)
            if not dates.invalid and (kind is None or kind in PaymentKind.values):
                per_currency = revenue.ledger_totals(
                    start=dates.bounds.get("paid_at__gte"),
                    end=dates.bounds.get("paid_at__lt"),
                    currency=_filter(changelist, CurrencyFilter).given,
                    kind=kind,
                )
                if per_currency is not None:
                    return self.list_totals(changelist.queryset, per_currency)
        return super().totals_of(changelist)

    @admin.display(description="Paid", ordering="paid_at")
    def paid(self, obj: Payment) -> str:
        return short_time(obj.paid_at)

    @admin.display(description="Donor", ordering="donor__email")
    def donor_cell(self, obj: Payment) -> str:
        return lines(obj.donor.email, obj.donor_name or obj.donor.name)

    @admin.display(description="Fee")
    def fee_display(self, obj: Payment) -> str:
        return money_or_dash(obj.fee, obj.currency)

    @admin.display(description="Net", ordering="net")
    def net_display(self, obj: Payment) -> str:
        return money_or_dash(obj.net, obj.currency)

    @admin.display(description="Refunded", ordering="amount_refunded")
    def refunded_display(self, obj: Payment) -> str:
        return str(obj.refunded_money) if obj.amount_refunded else "—"

    @admin.display(description="Refunds, disputes")
    def refunds_disputes(self, obj: Payment) -> str:
        refunded = ""
        if obj.amount_refunded:
            whole = " (all)" if obj.amount_refunded == obj.amount else ""
            refunded = f"{obj.refunded_money} refunded{whole}"
        disputed = ""
        if obj.has_open_dispute:
            disputed = format_html('<strong class="flag">{}</strong>', "DISPUTE OPEN")
        elif obj.has_dispute:
            disputed = "disputed (closed)"
        return lines(refunded, disputed) or "—"

    @admin.display(description="Article / campaign", ordering="article_slug")
    def attribution(self, obj: Payment) -> str:
        return attribution_cell(obj)

    @admin.display(description="Stripe")
    def stripe(self, obj: Payment) -> str:
        if obj.stripe_payment_intent_id or obj.stripe_charge_id:
            return stripe_link("payment", obj.stripe_payment_intent_id or obj.stripe_charge_id)
        return stripe_link("invoice", obj.stripe_invoice_id)

    @admin.display(description="Payment")
    def payment_link(self, obj: Payment) -> str:
        return stripe_link(
            "payment", obj.stripe_payment_intent_id, obj.stripe_payment_intent_id or ""
        )

    @admin.display(description="Charge")
    def charge_link(self, obj: Payment) -> str:
        return stripe_link("payment", obj.stripe_charge_id, obj.stripe_charge_id or "")

    @admin.display(description="Invoice")
    def invoice_link(self, obj: Payment) -> str:
        return stripe_link("invoice", obj.stripe_invoice_id, obj.stripe_invoice_id or "")

    @admin.display(description="Customer")
    def customer_link(self, obj: Payment) -> str:
        customer = obj.donor.stripe_customer_id
        return stripe_link("customer", customer, customer or "")

    def has_resend_receipt_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.resend_receipt")

    @admin.action(description="Resend the receipt", permissions=["resend_receipt"])
    def resend_receipts(self, request: HttpRequest, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        for pk in ids:
            send_receipt.delay(pk, resend=True)
        self.message_user(request, f"{len(ids)} receipt(s) queued to be sent again.")

    def get_urls(self):
        return [
            path(
                "<int:payment_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_payment_refund",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if self.has_refund_permission(request):  # the link only for those who may refund
            extra_context["refund_url"] = reverse("admin:payments_payment_refund", args=[object_id])
        return super().change_view(request, object_id, form_url, extra_context)

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.add_refund")

    def refund_view(self, request: HttpRequest, payment_id: int) -> HttpResponse:
        """Refund all or part of a payment through Stripe. The ledger follows when
        Stripe's refund event arrives (payments.services.refunds)."""
        if not self.has_refund_permission(request):
            messages.error(request, "You may not refund payments.")
            return HttpResponseRedirect(reverse("admin:payments_payment_changelist"))
        payment = get_object_or_404(Payment.objects.select_related("donor"), pk=payment_id)
        change_url = reverse("admin:payments_payment_change", args=[payment.pk])
        refundable = refunds.refundable_amount(payment)
        if request.method == "POST":
            form = RefundForm(request.POST, payment=payment, refundable=refundable)
            if form.is_valid():
                try:
                    refund = refunds.refund_payment(
                        payment,
                        amount=form.cleaned_data["amount"],
                        request_key=str(form.cleaned_data["request_key"]),
                        requested_by=request.user,
                        reason=form.cleaned_data["reason"],
                        note=form.cleaned_data["note"],
                        ends_membership=bool(form.cleaned_data.get("end_gift")),
                    )
                except Refused as exc:
                    form.add_error(exc.field if exc.field in form.fields else "amount", str(exc))
                else:
                    money = Money(refund.amount, refund.currency)
                    if refund.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
                        messages.error(
                            request,
                            f"Stripe did not make the refund of {money} "
                            f"(status: {refund.get_status_display().lower()}).",
                        )
                    else:
                        messages.success(
                            request,
                            f"Refund of {money} asked of Stripe; the ledger shows it when "
                            "Stripe confirms it.",
                        )
                    return HttpResponseRedirect(change_url)
        else:
            form = RefundForm(
                payment=payment,
                refundable=refundable,
                initial={
                    "request_key": uuid.uuid4(),
                    "amount": Money(refundable, payment.currency).as_decimal(),
                },
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund {payment.money} from {payment.donor.email}",
            "payment": payment,
            "refundable": Money(refundable, payment.currency),
            "pending": Money(refunds.pending_refunds(payment), payment.currency),
            "form": form,
            "opts": self.model._meta,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/payments/payment/refund.html", context)


@admin.register(Refund)
class RefundAdmin(MoneyListAdmin):
    """Refunds: asked for in admin (pending until Stripe's event confirms them) or in
    Stripe's dashboard; the reason sent to Stripe and staff's own note."""

    list_display = [
        "created",
        "payment",
        "amount_display",
        "status",
        "reason",
        "note",
        "ends_membership",
        "requested_by",
        "stripe",
    ]
    list_display_links = ["created"]
    list_filter = [
        ("created_at", DateRangeFilter),
        "status",
        ("currency", CurrencyFilter),
        ("reason", KnownValuesFilter.of(refunds.RefundReason.choices)),
    ]
    search_fields = ["payment__donor__name", "payment__donor__email", "note"]
    search_help_text = "An email address, a name or a note, or a Stripe id (re_, pi_, ch_)."
    email_search = ["payment__donor__email"]
    stripe_id_search = {
        "re_": ["stripe_refund_id"],
        "pyr_": ["stripe_refund_id"],
        "pi_": ["payment__stripe_payment_intent_id"],
        "ch_": ["payment__stripe_charge_id"],
    }
    list_select_related = ["payment__donor", "requested_by"]
    fields = [
        "payment",
        "amount_display",
        "status",
        "reason",
        "note",
        "ends_membership",
        "requested_by",
        "refund_link",
        "created_at",
        "updated_at",
        "notice_sent_at",
    ]
    readonly_fields = fields
    csv_columns = [
        CsvColumn("created_at", "created_at"),
        CsvColumn("email", "payment__donor__email"),
        CsvColumn("payment_id", "payment_id"),
        CsvColumn("currency", "currency"),
        money_column("amount", "amount"),
        CsvColumn("status", "status"),
        CsvColumn("reason", "reason"),
        CsvColumn("note", "note"),
        CsvColumn("requested_by", "requested_by__email"),
        CsvColumn("stripe_refund", "stripe_refund_id"),
        CsvColumn("stripe_charge", "payment__stripe_charge_id"),
    ]

    def list_totals(self, queryset) -> Totals:
        return count_and_amount_totals(queryset, "refunds")

    @admin.display(description="Asked", ordering="created_at")
    def created(self, obj: Refund) -> str:
        return short_time(obj.created_at)

    @admin.display(description="Stripe")
    def stripe(self, obj: Refund) -> str:
        return stripe_link("refund", obj.stripe_refund_id)

    @admin.display(description="Refund in Stripe")
    def refund_link(self, obj: Refund) -> str:
        return stripe_link("refund", obj.stripe_refund_id, obj.stripe_refund_id)


class OpenDisputeFilter(admin.SimpleListFilter):
    title = "open"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "Open"), ("no", "Closed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(status__in=CLOSED_DISPUTE_STATUSES)
        if self.value() == "no":
            return queryset.filter(status__in=CLOSED_DISPUTE_STATUSES)
        return queryset


@admin.register(Dispute)
class DisputeAdmin(MoneyListAdmin):
    """Chargebacks. Open ones need an answer in Stripe's dashboard before the deadline."""

    list_display = [
        "opened",
        "flag",
        "payment",
        "amount_display",
        "reason",
        "status",
        "stripe",
    ]
    list_display_links = ["opened"]
    list_filter = [
        OpenDisputeFilter,
        ("opened_at", DateRangeFilter),
        "status",
        ("currency", CurrencyFilter),
        ("reason", KnownValuesFilter.of(DISPUTE_REASONS)),
    ]
    search_fields = ["payment__donor__name", "payment__donor__email"]
    search_help_text = "An email address or a name, or a Stripe id (dp_, du_, pi_, ch_)."
    email_search = ["payment__donor__email"]
    stripe_id_search = {
        "dp_": ["stripe_dispute_id"],
        "du_": ["stripe_dispute_id"],
        "pi_": ["payment__stripe_payment_intent_id"],
        "ch_": ["payment__stripe_charge_id"],
    }
    list_select_related = ["payment__donor"]
    fields = [
        "payment",
        "amount_display",
        "reason",
        "status",
        "opened_at",
        "closed_at",
        "status_as_of",
        "dispute_link",
    ]
    readonly_fields = fields
    csv_columns = [
        CsvColumn("opened_at", "opened_at"),
        CsvColumn("email", "payment__donor__email"),
        CsvColumn("payment_id", "payment_id"),
        CsvColumn("currency", "currency"),
        money_column("amount", "amount"),
        CsvColumn("reason", "reason"),
        CsvColumn("status", "status"),
        CsvColumn("closed_at", "closed_at"),
        CsvColumn("stripe_dispute", "stripe_dispute_id"),
        CsvColumn("stripe_charge", "payment__stripe_charge_id"),
    ]

    def list_totals(self, queryset) -> Totals:
        return count_and_amount_totals(queryset, "disputes")

    @admin.display(description="Opened", ordering="opened_at")
    def opened(self, obj: Dispute) -> str:
        return short_time(obj.opened_at)

    @admin.display(description="")
    def flag(self, obj: Dispute) -> str:
        return format_html('<strong class="flag">{}</strong>', "OPEN") if obj.is_open else ""

    @admin.display(description="Stripe")
    def stripe(self, obj: Dispute) -> str:
        return stripe_link("dispute", obj.stripe_dispute_id)

    @admin.display(description="Dispute in Stripe")
    def dispute_link(self, obj: Dispute) -> str:
        return stripe_link("dispute", obj.stripe_dispute_id, obj.stripe_dispute_id)


class ReceiptSentFilter(admin.SimpleListFilter):
    """Receipts not sent yet: normally none older than a few minutes (the sweeper's job)."""

    title = "sent"
    parameter_name = "sent"

    def lookups(self, request, model_admin):
        return [("no", "Not sent yet"), ("yes", "Sent")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(sent_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(sent_at__isnull=False)
        return queryset


@admin.register(Receipt)
class ReceiptAdmin(LargeListMixin, IndexedSearchMixin, ReadOnlyAdmin):
    """One receipt per ledger row (a million rows): found by number, by the payer's
    address or by the payment's Stripe id, newest first."""

    list_display = ["number", "email", "created_at", "sent_display", "times_sent"]
    list_filter = [ReceiptSentFilter]
    search_fields = ["=number"]
    search_help_text = "A receipt number, the payer's email address, or a Stripe id (pi_, ch_)."
    email_search = ["payment__donor__email"]
    stripe_id_search = {
        "pi_": ["payment__stripe_payment_intent_id"],
        "ch_": ["payment__stripe_charge_id"],
    }
    sortable_by = ["number"]

    @admin.display(description="Sent", ordering="sent_at")
    def sent_display(self, obj: Receipt) -> str:
        if obj.sent_at:
            return date_format(timezone.localtime(obj.sent_at), "DATETIME_FORMAT")
        return format_html('<strong class="flag">{}</strong>', "NOT SENT")
