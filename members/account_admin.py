"""allauth's email addresses in admin, with its "mark verified" action declaring the
permission it needs (allauth's does not: any staff member who may view addresses would be
offered it). A verified address claims the comp and gift memberships granted to it, so
only staff who may change email addresses may verify one.

Registered again when members is ready (apps.py), after admin has loaded allauth's.
"""

from allauth.account.admin import EmailAddressAdmin
from allauth.account.models import EmailAddress
from django.contrib import admin
from django.http import HttpRequest


class StaffEmailAddressAdmin(EmailAddressAdmin):
    @admin.action(description="Mark selected email addresses as verified", permissions=["change"])
    def make_verified(self, request: HttpRequest, queryset) -> None:
        super().make_verified(request, queryset)


def register() -> None:
    if admin.site.is_registered(EmailAddress):
        admin.site.unregister(EmailAddress)
    admin.site.register(EmailAddress, StaffEmailAddressAdmin)
