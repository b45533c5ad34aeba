"""Card testing: the sources blocked and the failed card checks counted."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from config.admin_base import (
    DateRangeFilter,
    IndexedSearchMixin,
    LargeListMixin,
    ReadOnlyAdmin,
)
from payments import card_testing
from payments.models import (
    CardCheckFailure,
    CardTestingBlock,
)


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
    list_filter = [BlockInForceFilter, "source", ("blocked_at", DateRangeFilter)]
    search_fields = ["value", "user__email"]
    list_select_related = ["user", "lifted_by"]
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
class CardCheckFailureAdmin(LargeListMixin, IndexedSearchMixin, ReadOnlyAdmin):
    """Each failed card check counted, kept only while it can count towards a block (a
    card-testing attack writes thousands): searched exactly, on the indexed columns."""

    list_display = [
        "created_at",
        "stage",
        "start",
        "client_ip",
        "email",
        "user",
        "card_fingerprint",
    ]
    list_filter = ["stage", ("created_at", DateRangeFilter)]
    search_fields = ["=client_ip", "=card_fingerprint", "=start"]
    search_help_text = "An email address, a client address, a card fingerprint or a start."
    email_search = ["email"]
    list_select_related = ["user"]
    sortable_by = ["created_at"]
