"""Staff views of money: the ledger (read-only), refunds, disputes and the webhook inbox."""

import uuid

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from config.admin_base import ReadOnlyAdmin, ReadOnlyInline
from config.errors import Refused
from payments import card_testing
from payments.models import (
    CardCheckFailure,
    CardTestingBlock,
    Dispute,
    Donation,
    Donor,
    Payment,
    Receipt,
    Refund,
    StripeEvent,
    SuggestedAmount,
)
from payments.money import Money, parse_major_amount
from payments.services import inbox, refunds
from payments.states import CLOSED_DISPUTE_STATUSES
from payments.tasks import send_receipt


@admin.register(SuggestedAmount)
class SuggestedAmountAdmin(admin.ModelAdmin):
    list_display = ["__str__", "currency", "amount", "position", "is_default"]
    list_editable = ["position", "is_default"]
    list_filter = ["currency"]


@admin.register(Donor)
class DonorAdmin(ReadOnlyAdmin):
    """Donors. members/privacy_admin.py registers it again with the data-protection
    actions (export, erase), which reach memberships and gift memberships too."""

    list_display = ["email", "name", "user", "stripe_customer_id", "created_at"]
    search_fields = ["email", "name", "stripe_customer_id"]
    list_select_related = ["user"]
    show_full_result_count = False


@admin.register(Donation)
class DonationAdmin(ReadOnlyAdmin):
    """Every one-time gift started on the page, paid or not (the ledger has the paid ones)."""

    list_display = ["created_at", "donor", "total_display", "status", "attempts", "article_slug"]
    list_filter = ["status", "currency", "created_at"]
    search_fields = ["donor__email", "stripe_payment_intent_id", "public_id"]
    list_select_related = ["donor"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="Total")
    def total_display(self, obj: Donation) -> str:
        return str(obj.total)


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["stripe_refund_id", "amount", "currency", "status", "requested_by", "created_at"]
    readonly_fields = fields


class DisputeInline(ReadOnlyInline):
    model = Dispute
    fields = ["stripe_dispute_id", "amount", "currency", "reason", "status", "opened_at"]
    readonly_fields = fields


class RefundForm(forms.Form):
    amount = forms.CharField(max_length=20, help_text="In the payment's currency, e.g. 5 or 5.50.")
    # One per rendered form: a double submission refunds once.
    request_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, payment: Payment, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.payment = payment

    def clean_amount(self) -> int:
        try:
            return parse_major_amount(self.cleaned_data["amount"], self.payment.currency)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """The ledger: one row per successful charge."""

    list_display = [
        "paid_at",
        "donor",
        "amount_display",
        "refunded_display",
        "kind",
        "article_slug",
        "campaign",
        "disputed",
    ]
    list_filter = ["kind", "currency", "paid_at"]
    search_fields = ["donor__email", "stripe_payment_intent_id", "stripe_charge_id"]
    list_select_related = ["donor"]
    date_hierarchy = "paid_at"
    show_full_result_count = False
    inlines = [RefundInline, DisputeInline]
    actions = ["resend_receipts"]

    def get_queryset(self, request: HttpRequest):
        open_disputes = Dispute.objects.filter(payment=OuterRef("pk")).exclude(
            status__in=CLOSED_DISPUTE_STATUSES
        )
        return super().get_queryset(request).annotate(has_open_dispute=Exists(open_disputes))

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj: Payment) -> str:
        return str(obj.money)

    @admin.display(description="Refunded", ordering="amount_refunded")
    def refunded_display(self, obj: Payment) -> str:
        return str(obj.refunded_money) if obj.amount_refunded else "—"

    @admin.display(description="Disputed", boolean=True, ordering="has_open_dispute")
    def disputed(self, obj: Payment) -> bool:
        return obj.has_open_dispute

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
        extra_context = {
            **(extra_context or {}),
            "refund_url": reverse("admin:payments_payment_refund", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def refund_view(self, request: HttpRequest, payment_id: int) -> HttpResponse:
        """Refund all or part of a payment through Stripe; the ledger follows."""
        if not request.user.has_perm("payments.add_refund"):
            messages.error(request, "You may not refund payments.")
            return HttpResponseRedirect(reverse("admin:payments_payment_changelist"))
        payment = get_object_or_404(Payment.objects.select_related("donor"), pk=payment_id)
        change_url = reverse("admin:payments_payment_change", args=[payment.pk])
        if request.method == "POST":
            form = RefundForm(request.POST, payment=payment)
            if form.is_valid():
                try:
                    refund = refunds.refund_payment(
                        payment,
                        amount=form.cleaned_data["amount"],
                        request_key=str(form.cleaned_data["request_key"]),
                        requested_by=request.user,
                    )
                except Refused as exc:
                    form.add_error("amount", str(exc))
                else:
                    messages.success(
                        request,
                        f"Refund of {Money(refund.amount, refund.currency)} is {refund.status}.",
                    )
                    return HttpResponseRedirect(change_url)
        else:
            form = RefundForm(
                payment=payment,
                initial={
                    "request_key": uuid.uuid4(),
                    "amount": Money(payment.refundable, payment.currency).as_decimal(),
                },
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund {payment.money} from {payment.donor.email}",
            "payment": payment,
            "refundable": Money(payment.refundable, payment.currency),
            "form": form,
            "opts": self.model._meta,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/payments/payment/refund.html", context)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "payment", "amount_display", "status", "requested_by"]
    list_filter = ["status", "created_at"]
    search_fields = ["stripe_refund_id", "payment__donor__email"]
    list_select_related = ["payment__donor", "requested_by"]

    @admin.display(description="Amount")
    def amount_display(self, obj: Refund) -> str:
        return str(Money(obj.amount, obj.currency))


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
class DisputeAdmin(ReadOnlyAdmin):
    """Chargebacks. Open ones need an answer in Stripe's dashboard before the deadline."""

    list_display = ["opened_at", "flag", "payment", "amount_display", "reason", "status"]
    list_filter = [OpenDisputeFilter, "status", "reason"]
    search_fields = ["stripe_dispute_id", "payment__donor__email"]
    list_select_related = ["payment__donor"]

    @admin.display(description="")
    def flag(self, obj: Dispute) -> str:
        return format_html('<strong class="flag">{}</strong>', "OPEN") if obj.is_open else ""

    @admin.display(description="Amount")
    def amount_display(self, obj: Dispute) -> str:
        return str(Money(obj.amount, obj.currency))


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
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = ["number", "email", "created_at", "sent_display", "times_sent"]
    list_filter = [ReceiptSentFilter]
    search_fields = ["number", "email"]

    @admin.display(description="Sent", ordering="sent_at")
    def sent_display(self, obj: Receipt) -> str:
        if obj.sent_at:
            return date_format(timezone.localtime(obj.sent_at), "DATETIME_FORMAT")
        return format_html('<strong class="flag">{}</strong>', "NOT SENT")


class ApiVersionFilter(admin.SimpleListFilter):
    """Events in another Stripe API version than ours are read, but staff should know."""

    title = "API version"
    parameter_name = "api_version"

    def lookups(self, request, model_admin):
        return [("ours", f"Ours ({settings.STRIPE_API_VERSION})"), ("other", "Another version")]

    def queryset(self, request, queryset):
        if self.value() == "ours":
            return queryset.filter(api_version=settings.STRIPE_API_VERSION)
        if self.value() == "other":
            return queryset.exclude(api_version=settings.STRIPE_API_VERSION)
        return queryset


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    """The webhook inbox: every event Stripe sent, and what became of it."""

    list_display = [
        "stripe_id",
        "type",
        "status",
        "received_at",
        "processed_at",
        "attempts",
        "version_flag",
        "short_error",
    ]
    list_filter = ["status", ApiVersionFilter, "type"]
    search_fields = ["stripe_id", "type"]
    date_hierarchy = "received_at"
    show_full_result_count = False
    actions = ["process_again"]
    fields = [
        "stripe_id",
        "type",
        "status",
        "attempts",
        "last_error",
        "ignored_reason",
        "stripe_created",
        "received_at",
        "processed_at",
        "api_version",
        "livemode",
        "payload",
    ]

    @admin.display(description="Error or reason ignored")
    def short_error(self, obj: StripeEvent) -> str:
        text = obj.last_error or obj.ignored_reason
        return text.splitlines()[0][:120] if text else ""

    @admin.display(description="API version")
    def version_flag(self, obj: StripeEvent) -> str:
        if obj.in_our_api_version:
            return ""
        return format_html(
            '<strong class="flag" title="We pin {}">{}</strong>',
            settings.STRIPE_API_VERSION,
            obj.api_version or "unknown",
        )

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.reprocess_stripeevent")

    @admin.action(description="Process again", permissions=["reprocess"])
    def process_again(self, request: HttpRequest, queryset) -> None:
        events = list(queryset)
        for event in events:
            inbox.requeue_event(event)
        self.message_user(request, f"{len(events)} event(s) queued for processing.")


class BlockInForceFilter(admin.SimpleListFilter):
    title = "in force"
    parameter_name = "in_force"

    def lookups(self, request, model_admin):
        return [("yes", "In force"), ("no", "Ended or lifted")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(until__gt=timezone.now())
        if self.value() == "no":
            return queryset.filter(until__lte=timezone.now())
        return queryset


@admin.register(CardTestingBlock)
class CardTestingBlockAdmin(ReadOnlyAdmin):
    """Sources that failed too many card checks: their new payments are refused until the
    block ends (payments/card_testing.py). Staff with the permission may lift one early."""

    list_display = [
        "blocked_at",
        "flag",
        "source",
        "who",
        "reason",
        "until",
        "failures",
        "times_blocked",
        "lifted_by",
    ]
    list_filter = [BlockInForceFilter, "source"]
    search_fields = ["value", "user__email"]
    list_select_related = ["user", "lifted_by"]
    date_hierarchy = "blocked_at"
    actions = ["lift"]

    @admin.display(description="")
    def flag(self, obj: CardTestingBlock) -> str:
        if obj.until > timezone.now():
            return format_html('<strong class="flag">{}</strong>', "BLOCKED")
        return ""

    @admin.display(description="Address, email, account or card", ordering="value")
    def who(self, obj: CardTestingBlock) -> str:
        if obj.user is not None:
            return f"{obj.user.email} (account {obj.value})"
        return obj.value

    def has_lift_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.lift_cardtestingblock")

    @admin.action(description="Lift the block now", permissions=["lift"])
    def lift(self, request: HttpRequest, queryset) -> None:
        lifted = card_testing.lift_blocks(queryset, by=request.user)
        self.message_user(request, f"{lifted} block(s) lifted.")


@admin.register(CardCheckFailure)
class CardCheckFailureAdmin(ReadOnlyAdmin):
    """Each failed card check counted, kept only while it can count towards a block."""

    list_display = [
        "created_at",
        "stage",
        "start",
        "client_ip",
        "email",
        "user",
        "card_fingerprint",
    ]
    list_filter = ["stage"]
    search_fields = ["start", "client_ip", "email", "card_fingerprint"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
