"""Emails about a membership: welcome, a renewal that failed or waits for 3-D Secure, a
cancellation, the end."""

from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from config.emails import send_templated
from members.models import Membership

SUBJECTS = {
    "welcome": "Welcome, member of {org}",
    "payment_failed": "Your {org} membership payment did not go through",
    "confirm_payment": "Please confirm your {org} membership payment",
    "ended": "Your {org} membership has ended",
    "cancelled": "Your {org} membership will not renew",
}


def send_membership_email(membership_pk: int, which: str) -> None:
    """Render and send one of SUBJECTS' emails to the member.

    Whether to send is decided once, by the service that changed the membership
    (it marks `welcomed_at`, `last_failed_invoice_id` or `ended_notice_at`); the
    cancellation's by `send_cancel_notice`.
    """
    membership = Membership.objects.select_related("level", "user").get(pk=membership_pk)
    site = settings.SITE_URL
    context = {
        "membership": membership,
        # Their own name or none ("Hello,"): never the start of their email address
        "name": membership.user.get_short_name() if membership.user else "",
        "account_url": site + reverse("members:account"),
        "card_url": site + reverse("members:card"),
        "confirm_url": site + reverse("members:confirm_payment"),
        "join_url": site + reverse("members:join"),
        # A guest's membership: signing in by an emailed code proves the address (no password)
        "login_code_url": site
        + reverse("account_request_login_code")
        + "?"
        + urlencode({"email": membership.email}),
    }
    send_templated(
        f"members/email/{which}",
        SUBJECTS[which].format(org=settings.ORGANIZATION_NAME),
        membership.email,
        context,
    )


def send_cancel_notice(membership_pk: int) -> bool:
    """Tell a member once that their membership will not renew: when perks end, how to
    keep it. Says whether it was sent.

    Every cancellation enqueues this; the first run claims `cancel_notice_at` (one
    conditional UPDATE, so two cancellations, or this task run twice, send one email)
    and only while the membership is still set to end: a member who resumed before it
    ran hears nothing. Resuming clears the claim, so a later cancellation is told again.
    A failed send frees the claim for the task's retry.
    """
    claim = Membership.objects.filter(
        pk=membership_pk, cancel_at_period_end=True, cancel_notice_at__isnull=True
    )
    with transaction.atomic():
        if not claim.update(cancel_notice_at=timezone.now()):
            return False
    try:
        send_membership_email(membership_pk, "cancelled")
    except Exception:
        Membership.objects.filter(pk=membership_pk).update(cancel_notice_at=None)
        raise
    return True
