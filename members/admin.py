"""Staff views of accounts, membership levels and memberships (comp grants, ending)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest

from config.admin_base import ReadOnlyAdmin
from config.errors import Refused
from members import privacy
from members.models import GiftMembership, LevelAmount, Membership, MembershipLevel, User
from members.privacy_admin import PersonalDataActions
from members.services import comp, self_service
from members.states import MembershipKind, MembershipStatus
from payments import stripe_gateway as gateway


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(PersonalDataActions, DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ["-date_joined"]
    list_display = ["email", "display_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "display_name"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["display_name"]}),
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
    extra = 1
    fields = ["currency", "interval", "amount", "price_display"]
    readonly_fields = ["price_display"]

    @admin.display(description="Shown as")
    def price_display(self, obj: LevelAmount) -> str:
        return str(obj) if obj.pk else ""


@admin.register(MembershipLevel)
class MembershipLevelAdmin(admin.ModelAdmin):
    """Staff name the tiers, write their perks and set what each costs per currency."""

    list_display = ["name", "position", "is_active", "amounts_display"]
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
    "status",
    "level",
    "amount_display",
    "interval",
    "current_period_end",
    "cancel_at_period_end",
    "cancel_reason",
    "starts_at",
    "ends_at",
    "ended_at",
    "stripe_subscription_id",
    "stripe_synced_at",
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


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Every membership. "Add" grants a complimentary one; paid ones only come from Stripe."""

    list_display = [
        "email",
        "kind",
        "status",
        "level",
        "amount_display",
        "interval",
        "current_period_end",
        "ends_at",
        "cancel_at_period_end",
    ]
    list_filter = ["kind", "status", "interval", "currency", "level"]
    search_fields = ["email", "stripe_subscription_id"]
    list_select_related = ["level"]
    show_full_result_count = False
    date_hierarchy = "created_at"
    actions = ["end_now", "cancel_at_end"]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj: Membership) -> str:
        return str(obj.money) if obj.money else "—"

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
                self.message_user(
                    request, f"{membership.email}: Stripe: {exc.user_message}", messages.ERROR
                )
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
            lambda membership: self_service.cancel_membership(membership, reason="Staff (admin)"),
            "will end when the paid period does.",
        )


@admin.register(GiftMembership)
class GiftMembershipAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "recipient_email",
        "giver_email",
        "months",
        "send_on",
        "status",
        "sent_at",
        "claimed_at",
    ]
    list_filter = ["status", "months"]
    search_fields = ["recipient_email", "donation__donor__email"]
    list_select_related = ["donation__donor"]
    show_full_result_count = False
    exclude = ["claim_token"]  # the recipient's secret link

    @admin.display(description="From", ordering="donation__donor__email")
    def giver_email(self, obj: GiftMembership) -> str:
        return obj.donation.donor.email
