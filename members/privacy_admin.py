"""Admin actions for a data-protection request that reached staff by email: export a
person's data, erase it. On accounts (members' UserAdmin) and on donors, so a guest
who gave without an account is served too (payments' DonorAdmin, extended here:
payments does not know about memberships and gift memberships, members does).

Each action needs its own permission (`members.export_personal_data`,
`members.erase_personal_data`); a staff member who may only view sees neither.
"""

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from config.errors import Refused
from members import privacy
from members.privacy_views import export_filename, export_response
from payments import stripe_gateway as gateway
from payments.admin.donors import DonorAdmin as PaymentsDonorAdmin
from payments.models import Donor


class PersonalDataActions:
    """Export and erase for the person behind each selected row (`person_for`)."""

    actions = ["export_personal_data", "erase_personal_data"]

    def person_for(self, obj: Model) -> privacy.Person:
        raise NotImplementedError

    def has_export_personal_data_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.export_personal_data")

    def has_erase_personal_data_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.erase_personal_data")

    def _may_act_for(self, request: HttpRequest, person: privacy.Person) -> bool:
        """A superuser's account is handled by superusers only (as for changing it)."""
        return person.user is None or not person.user.is_superuser or request.user.is_superuser

    @admin.action(description="Export their data (JSON)", permissions=["export_personal_data"])
    def export_personal_data(self, request: HttpRequest, queryset: QuerySet):
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(request, "Export one person at a time.", messages.WARNING)
            return None
        (obj,) = chosen
        person = self.person_for(obj)
        if not self._may_act_for(request, person):
            self.message_user(request, "Only a superuser may do this.", messages.ERROR)
            return None
        data = privacy.export_person(person)
        self.log_change(request, obj, "Exported their personal data (data protection request).")
        return export_response(data, filename=export_filename(f"personal-data-{obj.pk}"))

    @admin.action(description="Erase their personal data…", permissions=["erase_personal_data"])
    def erase_personal_data(self, request: HttpRequest, queryset: QuerySet):
        """Ask first (what goes, what stays), then erase each person on its own."""
        chosen = [(obj, self.person_for(obj)) for obj in queryset.order_by("pk")]
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request,
                "admin/members/erase_personal_data.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Erase personal data?",
                    "opts": self.model._meta,
                    "chosen": chosen,
                    "action": "erase_personal_data",
                },
            )
        for obj, person in chosen:
            self._erase(request, obj, person)
        return None

    def _erase(self, request: HttpRequest, obj: Model, person: privacy.Person) -> None:
        label = str(obj)
        if not self._may_act_for(request, person):
            self.message_user(request, f"{label}: only a superuser may do this.", messages.ERROR)
            return
        if privacy.is_erased(person):
            self.message_user(request, f"{label}: already erased.", messages.WARNING)
            return
        try:
            done = privacy.erase_person(person)
        except gateway.GatewayError as exc:
            self.message_user(request, f"{label}: Stripe: {exc.detail}. Try again.", messages.ERROR)
            return
        except Refused as exc:
            self.message_user(request, f"{label}: {exc.message}", messages.ERROR)
            return
        obj.refresh_from_db()
        self.log_change(request, obj, "Erased their personal data (data protection request).")
        said = [f"{label}: erased"]
        if done.memberships_ended:
            said.append(f"{done.memberships_ended} membership(s) ended")
        if done.stripe_customers_deleted:
            said.append("Stripe customer deleted")
        said.append("confirmation emailed" if done.confirmed else "no address left to email")
        self.message_user(request, "; ".join(said) + ".", messages.SUCCESS)


admin.site.unregister(Donor)


@admin.register(Donor)
class DonorAdmin(PersonalDataActions, PaymentsDonorAdmin):
    """payments' donor list, with the data-protection actions. A donor with an account
    is handled as that account's person (all its donor records)."""

    def person_for(self, obj: Donor) -> privacy.Person:
        return privacy.person_of_donor(obj)
