"""The webhook inbox: every event Stripe sent, and what became of it."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from config.admin_base import (
    DateRangeFilter,
    IndexedSearchMixin,
    LargeListMixin,
    ReadOnlyAdmin,
    TextFilter,
)
from payments.admin.common import short_time, stripe_link
from payments.models import (
    StripeEvent,
)
from payments.services import inbox


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


class EventTypeFilter(TextFilter):
    """`?type=charge.refunded`: typed, not listed (listing them scans the whole inbox)."""

    title = "type"
    parameter_name = "type"
    field = "type"
    none_label = "No type"


@admin.register(StripeEvent)
class StripeEventAdmin(LargeListMixin, IndexedSearchMixin, ReadOnlyAdmin):
    """The webhook inbox: every event Stripe sent, and what became of it."""

    list_display = [
        "stripe_id",
        "type",
        "status",
        "received",
        "attempts",
        "version_flag",
        "short_error",
        "stripe",
    ]
    list_filter = [
        "status",
        ("received_at", DateRangeFilter),
        ApiVersionFilter,
        EventTypeFilter,
    ]
    search_fields = ["=type"]
    search_help_text = "A type, exactly (charge.refunded), or an event id (evt_)."
    stripe_id_search = {"evt_": ["stripe_id"]}
    list_defer = ("payload",)  # big; on the detail page only
    sortable_by = ["stripe_id", "received"]
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
        "event_link",
        "payload",
    ]
    readonly_fields = fields

    @admin.display(description="Received", ordering="received_at")
    def received(self, obj: StripeEvent) -> str:
        return short_time(obj.received_at)

    @admin.display(description="Stripe")
    def stripe(self, obj: StripeEvent) -> str:
        return stripe_link("event", obj.stripe_id)

    @admin.display(description="In Stripe")
    def event_link(self, obj: StripeEvent) -> str:
        return stripe_link("event", obj.stripe_id, obj.stripe_id)

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
