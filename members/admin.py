"""Staff views of accounts, membership levels and memberships (comp grants, ending),
newsletters (and their subscribers as CSV), and member webhooks (endpoints, deliveries)."""

import csv
import json
from itertools import chain

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Count, Q
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from config.admin_base import (
    CsvColumn,
    CsvExportMixin,
    DateRangeFilter,
    Echo,
    IndexedSearchMixin,
    KnownValuesFilter,
    LargeListMixin,
    ReadOnlyAdmin,
    spreadsheet_safe,
)
from config.errors import Refused
from members import privacy, selectors
from members.models import (
    GiftMembership,
    LevelAmount,
    Membership,
    MembershipLevel,
    Newsletter,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from members.privacy_admin import PersonalDataActions
from members.services import comp, member_webhooks, self_service
from members.states import (
    GIFT_MONTHS,
    PERK_STATUSES,
    CancelReason,
    MembershipKind,
    MembershipOrigin,
    MembershipStatus,
)
from payments import stripe_gateway as gateway
from payments.admin.common import (
    ArticleFilter,
    CampaignFilter,
    CurrencyFilter,
    lines,
    money_column,
    short_time,
    stripe_link,
)
from payments.forms import MajorUnitAmountsForm


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(LargeListMixin, IndexedSearchMixin, PersonalDataActions, DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ["-date_joined"]
    list_display = ["email", "display_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["display_name", "email"]
    search_help_text = "An email address, or a name or part of an address."
    email_search = ["email"]
    sortable_by = ["email", "date_joined"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["display_name", "on_supporters_wall"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),
    ]

    # Who may make staff and grant powers: superusers only, or any staff member
    # allowed to change users could make themselves (or a friend) a superuser.
    POWER_FIELDS = ["is_staff", "is_superuser", "groups", "user_permissions"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [name for name in self.POWER_FIELDS if name not in fields]
        return fields

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        """A superuser's account (email, password) is changed by superusers only."""
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def person_for(self, obj: User) -> privacy.Person:
        return privacy.person_of_user(obj)


# --- Levels and memberships ------------------------------------------------------------


class LevelAmountInline(admin.TabularInline):
    model = LevelAmount
    form = MajorUnitAmountsForm
    extra = 1
    fields = ["currency", "interval", "amount", "price_display"]
    readonly_fields = ["price_display"]

    @admin.display(description="Shown as")
    def price_display(self, obj: LevelAmount) -> str:
        return str(obj) if obj.pk else ""


@admin.register(MembershipLevel)
class MembershipLevelAdmin(admin.ModelAdmin):
    """Staff name the tiers, write their perks and set what each costs per currency."""

    list_display = ["name", "position", "is_active", "shown_on_supporters_wall", "amounts_display"]
    list_editable = ["position", "is_active"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [LevelAmountInline]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("amounts")

    @admin.display(description="Amounts")
    def amounts_display(self, obj: MembershipLevel) -> str:
        return ", ".join(str(price) for price in obj.amounts.all())


class CompGrantForm(forms.ModelForm):
    """The only membership staff add by hand: complimentary (paid ones come from Stripe)."""

    class Meta:
        model = Membership
        fields = ["email", "ends_at", "note"]
        help_texts = {
            "email": "Perks start at once for this address's account, or when someone "
            "signs up with it and verifies it.",
            "ends_at": "Leave empty for no end date.",
        }

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


# Kept in step with Stripe, or set once by the service that created the membership.
MEMBERSHIP_FIELDS = [
    "email",
    "user",
    "donor",
    "kind",
    "origin",
    "status",
    "level",
    "amount_display",
    "interval",
    "current_period_end",
    "cancel_at_period_end",
    "cancel_category",
    "cancel_reason",
    "starts_at",
    "ends_at",
    "ended_at",
    "stripe_subscription_id",
    "subscription_link",
    "customer_link",
    "stripe_synced_at",
    "article_slug",
    "campaign",
    "granted_by",
    "note",
    "created_at",
]
# What staff may still change on a saved membership, by kind.
EDITABLE_FIELDS = {
    MembershipKind.COMP: {"ends_at", "note"},
    MembershipKind.GIFT: {"note"},
    MembershipKind.PAID: {"note"},
}


# The statuses of a membership that has ended (for good).
ENDED_STATUSES = (MembershipStatus.CANCELED, MembershipStatus.EXPIRED)


class CountedFilter(admin.SimpleListFilter):
    """`?counted=active`: the members the dashboard counts as active: paid, joined on this
    site (not a subscription made in Stripe), and active, trialing or past due."""

    title = "counted as"
    parameter_name = "counted"

    def lookups(self, request, model_admin):
        return [("active", "Active paying member")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(
                kind=MembershipKind.PAID,
                origin=MembershipOrigin.SITE,
                status__in=PERK_STATUSES,
            )
        return queryset


@admin.register(Membership)
class MembershipAdmin(LargeListMixin, CsvExportMixin, IndexedSearchMixin, admin.ModelAdmin):
    """Every membership. "Add" grants a complimentary one; paid ones only come from Stripe.
    Filters take the parameters the revenue dashboard links with (see the README)."""

    list_display = [
        "email",
        "kind_cell",
        "status_cell",
        "level",
        "amount_display",
        "started",
        "period_cell",
        "stripe",
    ]
    list_filter = [
        CountedFilter,
        "kind",
        "status",
        "origin",
        ("currency", CurrencyFilter),
        "interval",
        "level",
        "cancel_category",
        ("starts_at", DateRangeFilter),
        ("ended_at", DateRangeFilter),
        ArticleFilter,
        CampaignFilter,
    ]
    search_fields = ["email", "user__display_name", "donor__name"]
    search_help_text = "An email address, a name, or a Stripe id (sub_, cus_)."
    email_search = ["email"]
    stripe_id_search = {
        "sub_": ["stripe_subscription_id"],
        "cus_": ["donor__stripe_customer_id"],
    }
    list_select_related = ["level", "donor"]
    sortable_by = ["email"]
    list_defer = ("cancel_reason", "note", *Membership.LINK_FIELDS)
    actions = ["end_now", "cancel_at_end"]
    csv_columns = [
        CsvColumn("created_at", "created_at"),
        CsvColumn("email", "email"),
        CsvColumn("kind", "kind"),
        CsvColumn("origin", "origin"),
        CsvColumn("status", "status"),
        CsvColumn("level", "level__name"),
        CsvColumn("currency", "currency"),
        money_column("amount", "amount"),
        CsvColumn("interval", "interval"),
        CsvColumn("starts_at", "starts_at"),
        CsvColumn("current_period_end", "current_period_end"),
        CsvColumn("cancel_at_period_end", "cancel_at_period_end"),
        CsvColumn("cancel_category", "cancel_category"),
        CsvColumn("ends_at", "ends_at"),
        CsvColumn("ended_at", "ended_at"),
        CsvColumn("article", "article_slug"),
        CsvColumn("campaign", "campaign"),
        CsvColumn("stripe_subscription", "stripe_subscription_id"),
        CsvColumn("stripe_customer", "donor__stripe_customer_id"),
    ]

    class Media:
        css = {"all": ["css/admin.css"]}

    @admin.display(description="Kind", ordering="kind")
    def kind_cell(self, obj: Membership) -> str:
        outside = "made in Stripe" if obj.origin == MembershipOrigin.STRIPE else ""
        return lines(obj.get_kind_display(), outside)

    @admin.display(description="Status", ordering="status")
    def status_cell(self, obj: Membership) -> str:
        ending = ""
        if obj.cancel_at_period_end and obj.status not in ENDED_STATUSES:
            ending = format_html('<strong class="flag">{}</strong>', "ends at period end")
        return lines(obj.get_status_display(), ending)

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj: Membership) -> str:
        if not obj.money:
            return "—"
        return f"{obj.money} / {obj.interval}" if obj.interval else str(obj.money)

    @admin.display(description="Started", ordering="starts_at")
    def started(self, obj: Membership) -> str:
        return short_time(obj.starts_at)

    @admin.display(description="Renews or ends")
    def period_cell(self, obj: Membership) -> str:
        if obj.ended_at:
            return lines("ended", short_time(obj.ended_at))
        if obj.ends_at:
            return lines("ends", short_time(obj.ends_at))
        if obj.current_period_end:
            word = "ends" if obj.cancel_at_period_end else "renews"
            return lines(word, short_time(obj.current_period_end))
        return "—"

    @admin.display(description="Stripe")
    def stripe(self, obj: Membership) -> str:
        return stripe_link("subscription", obj.stripe_subscription_id)

    @admin.display(description="Subscription in Stripe")
    def subscription_link(self, obj: Membership) -> str:
        subscription = obj.stripe_subscription_id
        return stripe_link("subscription", subscription, subscription or "")

    @admin.display(description="Customer in Stripe")
    def customer_link(self, obj: Membership) -> str:
        customer = obj.donor.stripe_customer_id if obj.donor else None
        return stripe_link("customer", customer, customer or "")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # memberships are history: end them instead

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = CompGrantForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return list(CompGrantForm.Meta.fields) if obj is None else MEMBERSHIP_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is None:
            return []
        editable = EDITABLE_FIELDS.get(obj.kind, set())
        return [name for name in MEMBERSHIP_FIELDS if name not in editable]

    def save_model(self, request: HttpRequest, obj: Membership, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        granted = comp.grant_comp_membership(
            email=form.cleaned_data["email"],
            ends_at=form.cleaned_data["ends_at"],
            note=form.cleaned_data["note"],
            granted_by=request.user,
        )
        obj.pk = granted.pk  # the admin logs and links to the membership the service made
        obj.refresh_from_db()

    def _each(self, request: HttpRequest, queryset, change, done: str) -> None:
        """Run `change` on each membership and report each result on its own line."""
        for membership in queryset.order_by("pk"):
            if membership.status in (MembershipStatus.CANCELED, MembershipStatus.EXPIRED):
                self.message_user(request, f"{membership.email}: already ended.", messages.WARNING)
                continue
            try:
                change(membership)
            except Refused as exc:
                self.message_user(request, f"{membership.email}: {exc.message}", messages.ERROR)
            except gateway.GatewayError as exc:
                said = gateway.staff_message(exc, "The change")  # not the reader's sentence
                self.message_user(request, f"{membership.email}: {said}", messages.ERROR)
            else:
                self.message_user(request, f"{membership.email}: {done}", messages.SUCCESS)

    @admin.action(
        description="End now (paid: cancel the Stripe subscription)", permissions=["change"]
    )
    def end_now(self, request: HttpRequest, queryset) -> None:
        self._each(request, queryset, self_service.end_membership_now, "ended now.")

    @admin.action(description="Cancel at period end (paid)", permissions=["change"])
    def cancel_at_end(self, request: HttpRequest, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda membership: self_service.cancel_membership(
                membership, reason="Staff (admin)", category=CancelReason.STAFF
            ),
            "will end when the paid period does.",
        )


@admin.register(GiftMembership)
class GiftMembershipAdmin(LargeListMixin, CsvExportMixin, IndexedSearchMixin, ReadOnlyAdmin):
    """Gift memberships: who gave, to whom, for how long, and where each stands."""

    list_display = [
        "created",
        "recipient",
        "giver_email",
        "months",
        "paid_display",
        "status",
        "dates_cell",
        "stripe",
    ]
    list_display_links = ["created"]
    list_filter = [
        ("created_at", DateRangeFilter),
        "status",
        ("months", KnownValuesFilter.of(GIFT_MONTHS)),
        ArticleFilter,
        CampaignFilter,
    ]
    search_fields = ["recipient_name", "giver_name", "recipient_email", "donation__donor__email"]
    search_help_text = "An email address or a name (giver or recipient), or a Stripe id (pi_)."
    email_search = ["recipient_email", "donation__donor__email"]
    stripe_id_search = {"pi_": ["donation__stripe_payment_intent_id"]}
    list_select_related = ["donation__donor"]
    sortable_by = ["created"]
    exclude = ["claim_token"]  # the recipient's secret link
    readonly_fields = ["paid_display", "payment_link"]
    csv_name = "gift-memberships"
    csv_columns = [
        CsvColumn("created_at", "created_at"),
        CsvColumn("giver_email", "donation__donor__email"),
        CsvColumn("giver_name", "giver_name"),
        CsvColumn("recipient_email", "recipient_email"),
        CsvColumn("recipient_name", "recipient_name"),
        CsvColumn("months", "months"),
        CsvColumn("status", "status"),
        CsvColumn("currency", "donation__currency"),
        money_column("amount", "donation__amount", "donation__currency"),
        money_column("fee_cover", "donation__fee_cover", "donation__currency"),
        CsvColumn("send_on", "send_on"),
        CsvColumn("sent_at", "sent_at"),
        CsvColumn("claimed_at", "claimed_at"),
        CsvColumn("article", "article_slug"),
        CsvColumn("campaign", "campaign"),
        CsvColumn("stripe_payment_intent", "donation__stripe_payment_intent_id"),
    ]

    @admin.display(description="Bought", ordering="created_at")
    def created(self, obj: GiftMembership) -> str:
        return short_time(obj.created_at)

    @admin.display(description="For", ordering="recipient_email")
    def recipient(self, obj: GiftMembership) -> str:
        return lines(obj.recipient_email, obj.recipient_name)

    @admin.display(description="From", ordering="donation__donor__email")
    def giver_email(self, obj: GiftMembership) -> str:
        return obj.donation.donor.email

    @admin.display(description="Paid")
    def paid_display(self, obj: GiftMembership) -> str:
        return str(obj.donation.total)

    @admin.display(description="Send on, claimed")
    def dates_cell(self, obj: GiftMembership) -> str:
        send_on = date_format(obj.send_on, "j M Y")
        claimed = f"claimed {short_time(obj.claimed_at)}" if obj.claimed_at else ""
        return lines(send_on, claimed)

    @admin.display(description="Stripe")
    def stripe(self, obj: GiftMembership) -> str:
        return stripe_link("payment", obj.donation.stripe_payment_intent_id)

    @admin.display(description="Payment in Stripe")
    def payment_link(self, obj: GiftMembership) -> str:
        intent = obj.donation.stripe_payment_intent_id
        return stripe_link("payment", intent, intent or "")


# --- Newsletters ---------------------------------------------------------------------------


@admin.register(Newsletter)
class NewsletterAdmin(admin.ModelAdmin):
    """Staff define the lists; readers choose them on their account page; the mailing
    tool gets each list as CSV (the export action)."""

    list_display = ["name", "slug", "members_only", "is_active", "position", "subscriber_count"]
    list_editable = ["is_active", "position"]
    list_filter = ["members_only", "is_active"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["export_subscribers"]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(subscriber_count=Count("subscriptions"))

    @admin.display(description="Subscribers", ordering="subscriber_count")
    def subscriber_count(self, obj: Newsletter) -> int:
        return obj.subscriber_count

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.export_subscribers")

    @admin.action(
        description="Export subscribers (CSV: email, name, since)", permissions=["export"]
    )
    def export_subscribers(self, request: HttpRequest, queryset):
        """One newsletter's list, streamed as it is read (any size, little memory). A
        members-only list holds only those who are members now."""
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(request, "Export one newsletter at a time.", messages.WARNING)
            return None
        (newsletter,) = chosen
        writer = csv.writer(Echo())
        rows = (
            [s.email, spreadsheet_safe(s.name), s.since.isoformat()]
            for s in selectors.newsletter_subscribers(newsletter)
        )
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in chain([["email", "name", "since"]], rows)),
            content_type="text/csv; charset=utf-8",
        )
        filename = f"{newsletter.slug}-subscribers-{timezone.localdate():%Y-%m-%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        self.log_change(request, newsletter, "Exported its subscribers (CSV).")
        return response


# --- Member webhooks -----------------------------------------------------------------------


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Addresses of the newsroom's own systems told about memberships (see the README,
    "Member webhooks"). The signing secret is shown once: when the endpoint is added, or
    when it is rolled (the action), never again."""

    list_display = ["url", "description", "is_active", "secret_hint", "pending", "given_up"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    actions = ["roll_secret"]

    def get_queryset(self, request: HttpRequest):
        pending = Q(deliveries__delivered_at__isnull=True, deliveries__gave_up_at__isnull=True)
        return (
            super()
            .get_queryset(request)
            .annotate(
                pending=Count("deliveries", filter=pending),
                given_up=Count("deliveries", filter=Q(deliveries__gave_up_at__isnull=False)),
            )
        )

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is None:
            return ["url", "description", "is_active"]
        return ["url", "description", "is_active", "secret_hint", "created_at", "secret_rolled_at"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [] if obj is None else ["secret_hint", "created_at", "secret_rolled_at"]

    @admin.display(description="Secret")
    def secret_hint(self, obj: WebhookEndpoint) -> str:
        return obj.secret_hint

    @admin.display(description="Pending", ordering="pending")
    def pending(self, obj: WebhookEndpoint) -> int:
        return obj.pending

    @admin.display(description="Given up", ordering="given_up")
    def given_up(self, obj: WebhookEndpoint) -> int:
        return obj.given_up

    def _show_secret(self, request: HttpRequest, endpoint: WebhookEndpoint, secret: str):
        response = TemplateResponse(
            request,
            "admin/members/webhookendpoint/secret.html",
            {
                **self.admin_site.each_context(request),
                "title": "The endpoint's signing secret",
                "opts": self.model._meta,
                "endpoint": endpoint,
                "secret": secret,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    def response_add(self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue=None):
        self.message_user(request, f"The endpoint {obj.url} was added.", messages.SUCCESS)
        return self._show_secret(request, obj, obj.secret)

    @admin.action(description="Roll the signing secret (shown once)", permissions=["change"])
    def roll_secret(self, request: HttpRequest, queryset):
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(request, "Roll one endpoint's secret at a time.", messages.WARNING)
            return None
        (endpoint,) = chosen
        secret = member_webhooks.roll_secret(endpoint)
        self.log_change(request, endpoint, "Rolled its signing secret.")
        return self._show_secret(request, endpoint, secret)


class DeliveryStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("delivered", "Delivered"), ("given_up", "Given up")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(delivered_at__isnull=True, gave_up_at__isnull=True)
        if self.value() == "delivered":
            return queryset.filter(delivered_at__isnull=False)
        if self.value() == "given_up":
            return queryset.filter(gave_up_at__isnull=False)
        return queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LargeListMixin, IndexedSearchMixin, ReadOnlyAdmin):
    """The delivery log: each event for each endpoint, and how its tries went (a row per
    membership event and endpoint: it grows with the members)."""

    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "attempts",
        "last_status_code",
        "last_error",
        "delivered_at",
        "gave_up_at",
        "next_attempt_at",
    ]
    list_filter = [DeliveryStatusFilter, "event_type", "endpoint", ("created_at", DateRangeFilter)]
    search_fields = ["=event_id"]
    search_help_text = "An event id, or the member's email address."
    email_search = ["membership__email"]
    list_select_related = ["endpoint"]
    list_defer = ("payload",)
    sortable_by = ["created_at"]
    fields = [
        "event_id",
        "event_type",
        "endpoint",
        "membership",
        "created_at",
        "attempts",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "gave_up_at",
        "body",
    ]
    readonly_fields = fields
    actions = ["try_again_now"]

    @admin.display(description="Body")
    def body(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    def has_try_again_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.change_webhookendpoint")

    @admin.action(description="Try again now (not yet delivered)", permissions=["try_again"])
    def try_again_now(self, request: HttpRequest, queryset):
        from members.tasks import deliver_member_webhook

        again = member_webhooks.retry_now(queryset.values_list("pk", flat=True))
        for delivery_id, attempts in again:
            deliver_member_webhook.delay(delivery_id, attempts)
        self.message_user(request, f"{len(again)} deliveries sent again.", messages.SUCCESS)
