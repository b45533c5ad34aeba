"""Emails about a membership: welcome, a renewal that failed or waits for 3-D Secure, the end."""

from django.conf import settings
from django.urls import reverse

from config.emails import send_templated
from members.models import Membership

SUBJECTS = {
    "welcome": "Welcome, member of {org}",
    "payment_failed": "Your {org} membership payment did not go through",
    "confirm_payment": "Please confirm your {org} membership payment",
    "ended": "Your {org} membership has ended",
}


def send_membership_email(membership_pk: int, which: str) -> None:
    """Render and send one of SUBJECTS' emails to the member.

    Whether to send is decided once, by the service that changed the membership
    (it marks `welcomed_at`, `last_failed_invoice_id` or `ended_notice_at`).
    """
    membership = Membership.objects.select_related("level", "user").get(pk=membership_pk)
    site = settings.SITE_URL
    context = {
        "membership": membership,
        "name": membership.user.get_short_name() if membership.user else "",
        "account_url": site + reverse("members:account"),
        "card_url": site + reverse("members:card"),
        "confirm_url": site + reverse("members:confirm_payment"),
        "join_url": site + reverse("members:join"),
    }
    send_templated(
        f"members/email/{which}",
        SUBJECTS[which].format(org=settings.ORGANIZATION_NAME),
        membership.email,
        context,
    )
