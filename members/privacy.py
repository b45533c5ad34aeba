"""Data protection for a person: everything we hold about them, and erasing it on request.

A person is an account, with the donor records of its verified addresses, or a
guest donor with no account (whose request reached staff by email). The account
page and admin both call `export_person` and `erase_person`.

Erasure removes or pseudonymises what says who someone is and keeps the ledger
whole, as accounting law requires: amounts, currencies, dates, kinds, Stripe ids,
receipt numbers, refunds and disputes stay; emails, names, messages and reasons
go; the Stripe Customer is deleted. In order, so that a failure leaves a state
that simply runs again:

1. what still runs is ended, Stripe first (a live paid membership's subscription
   is canceled through members.services; comp and gift perks stop);
2. each donor's Stripe Customer is deleted (already gone counts as done);
3. in one transaction: the confirmation email is queued to the person's real
   address (rendered before it is erased), then every record is pseudonymised.

Running it again finds nothing live, customers already gone and records already
erased: it changes nothing and sends no second email.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from config.emails import ERASED_DOMAIN, erased_address, is_erased_address, organization
from members.models import (
    GiftMembership,
    Membership,
    NewsletterSubscription,
    User,
    WebhookDelivery,
)
from members.services import accounts, self_service
from members.states import GiftStatus, MembershipStatus
from payments import privacy as payments_privacy
from payments.models import Donor, Payment
from payments.privacy import ERASED

ABOUT = (
    "Everything {org} holds about you, as of {when}. Amounts are in the currency's "
    "smallest unit (cents). Payments, receipts and refunds are kept for our accounts "
    "as the law requires, even after your personal data is erased."
)
# Gifts still to be delivered keep the recipient's address when their giver is erased.
UNDELIVERED = [GiftStatus.PAID]


@dataclass(frozen=True)
class Person:
    """Whose data a request is about: an account and/or the donor records that are theirs."""

    user: User | None
    donor_ids: tuple[int, ...]
    emails: frozenset[str]  # their proven addresses (an account's verified ones)

    @property
    def address(self) -> str | None:
        """Where to write to them, unless already erased."""
        if self.user is not None:
            return None if is_erased_address(self.user.email) else self.user.email
        live = sorted(email for email in self.emails if not is_erased_address(email))
        return live[0] if live else None


def person_of_user(user: User) -> Person:
    """The account, and the donor records linked to it or given as one of its verified
    addresses (an address only added, never proven, brings nobody else's data)."""
    emails = {user.email} | set(
        EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    )
    emails = {email.strip().lower() for email in emails}
    donor_ids = Donor.objects.filter(
        Q(user=user) | Q(email__in=emails, user__isnull=True)
    ).values_list("pk", flat=True)
    return Person(user=user, donor_ids=tuple(sorted(donor_ids)), emails=frozenset(emails))


def person_of_donor(donor: Donor) -> Person:
    """A donor's person: its account's when it has one, else the guest alone."""
    if donor.user_id is not None:
        return person_of_user(donor.user)
    return Person(user=None, donor_ids=(donor.pk,), emails=frozenset({donor.email}))


# --- What is theirs ----------------------------------------------------------------------


def _memberships(person: Person) -> QuerySet[Membership]:
    """Held by the account, paid by their donors, or granted to their address."""
    mine = Q(donor_id__in=person.donor_ids) | Q(email__in=person.emails, user__isnull=True)
    if person.user is not None:
        mine |= Q(user=person.user)
    return Membership.objects.filter(mine)


def _gifts_given(person: Person) -> QuerySet[GiftMembership]:
    return GiftMembership.objects.filter(donation__donor_id__in=person.donor_ids)


def _gifts_received(person: Person) -> QuerySet[GiftMembership]:
    received = Q(recipient_email__in=person.emails)
    if person.user is not None:
        received |= Q(membership__user=person.user)
    return GiftMembership.objects.filter(received)


# --- Export ------------------------------------------------------------------------------


def export_person(person: Person, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything held about the person, as JSON-ready data (dates stay datetimes:
    encode with DjangoJSONEncoder). Nobody else's email appears in it."""
    now = now or timezone.now()
    user = person.user
    return {
        "about": ABOUT.format(org=settings.ORGANIZATION_NAME, when=now.isoformat()),
        "organization": organization(),
        "generated_at": now,
        "account": None
        if user is None
        else {
            "email": user.email,
            "display_name": user.display_name,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "is_active": user.is_active,
            "on_supporters_page": user.on_supporters_wall,
        },
        "newsletters": []
        if user is None
        else [
            {"newsletter": row.newsletter.name, "since": row.subscribed_at}
            for row in NewsletterSubscription.objects.filter(user=user)
            .select_related("newsletter")
            .order_by("subscribed_at", "pk")
        ],
        "sign_in_email_addresses": []
        if user is None
        else [
            {"email": address.email, "verified": address.verified, "primary": address.primary}
            for address in EmailAddress.objects.filter(user=user).order_by("pk")
        ],
        **payments_privacy.export_donors(person.donor_ids),
        "memberships": [
            _membership(membership)
            for membership in _memberships(person)
            .select_related("level")
            .order_by("created_at", "pk")
        ],
        "gift_memberships_given": [
            {
                "gift": str(gift.donation.public_id),
                "months": gift.months,
                "giver_name": gift.giver_name,
                "recipient_email": gift.recipient_email,
                "recipient_name": gift.recipient_name,
                "message": gift.message,
                "send_on": gift.send_on,
                "status": gift.status,
                "sent_at": gift.sent_at,
                "created_at": gift.created_at,
            }
            for gift in _gifts_given(person).select_related("donation").order_by("created_at")
        ],
        # What the giver chose to tell the recipient; the giver's address is theirs.
        "gift_memberships_received": [
            {
                "months": gift.months,
                "from": gift.giver_name,
                "recipient_email": gift.recipient_email,
                "recipient_name": gift.recipient_name,
                "message": gift.message,
                "status": gift.status,
                "sent_at": gift.sent_at,
                "claimed_at": gift.claimed_at,
            }
            for gift in _gifts_received(person).order_by("created_at")
        ],
    }


def _membership(membership: Membership) -> dict[str, Any]:
    return {
        "id": str(membership.public_id),
        "email": membership.email,
        "kind": membership.kind,
        "status": membership.status,
        "level": membership.level.name if membership.level else None,
        "amount": membership.amount,
        "currency": membership.currency,
        "interval": membership.interval,
        "card": membership.card or None,
        "starts_at": membership.starts_at,
        "current_period_end": membership.current_period_end,
        "cancel_at_period_end": membership.cancel_at_period_end,
        "cancel_reason": membership.cancel_reason,
        "ends_at": membership.ends_at,
        "ended_at": membership.ended_at,
        "note": membership.note,
        "stripe_subscription_id": membership.stripe_subscription_id,
        "created_at": membership.created_at,
    }


# --- Erasure -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    """What an erasure did (all zero and `confirmed` False when run again)."""

    memberships_ended: int
    stripe_customers_deleted: int
    confirmed: bool  # the confirmation email was queued


def erase_person(person: Person) -> Erasure:
    """Erase the person's personal data (see the module's docstring for what stays).

    Raises GatewayError when Stripe cannot be reached or refuses, and
    Refused when a membership cannot be ended: nothing is pseudonymised
    then, and running it again carries on where it stopped.
    """
    ended = _end_what_runs(person)
    donors = list(Donor.objects.filter(pk__in=person.donor_ids))
    deleted = payments_privacy.delete_stripe_customers(
        donor for donor in donors if not is_erased_address(donor.email)
    )
    with transaction.atomic():
        address = person.address
        if address:
            accounts.queue_email(_confirmation(person, address, memberships_ended=ended))
        _pseudonymise(person, customer_ids=[d.stripe_customer_id for d in donors])
    return Erasure(
        memberships_ended=ended, stripe_customers_deleted=deleted, confirmed=bool(address)
    )


def _end_what_runs(person: Person) -> int:
    """End every live membership of theirs (a paid one's subscription at Stripe first).

    The confirmation email says so: the usual "your membership has ended" email is
    not sent (marked as told before ending it).
    """
    live = _memberships(person).exclude(
        status__in=[MembershipStatus.CANCELED, MembershipStatus.EXPIRED]
    )
    ended = 0
    for membership in live.order_by("pk"):
        this = Membership.objects.filter(pk=membership.pk)
        marked = this.filter(ended_notice_at__isnull=True).update(ended_notice_at=timezone.now())
        try:
            self_service.end_membership_now(membership)
        except Exception:
            if marked:  # not ended after all: its own "ended" email stays due
                this.update(ended_notice_at=None)
            raise
        ended += 1
    return ended


def _confirmation(person: Person, address: str, *, memberships_ended: int):
    context = {
        "organization": organization(),
        "site_url": settings.SITE_URL,
        "name": person.user.get_short_name() if person.user else "",
        "had_account": person.user is not None,
        "memberships_ended": memberships_ended,
        "kept_payments": Payment.objects.filter(donor_id__in=person.donor_ids).exists(),
    }
    message = EmailMultiAlternatives(
        subject=f"Your personal data at {settings.ORGANIZATION_NAME} has been erased",
        body=render_to_string("members/email/erased.txt", context),
        to=[address],
    )
    message.attach_alternative(render_to_string("members/email/erased.html", context), "text/html")
    return message


def _pseudonymise(person: Person, *, customer_ids: list[str | None]) -> None:
    """Every record of theirs, in the lock order of payments.services (Stripe event →
    membership → gift membership → donor → donation → payment → receipt), then the
    account. Inside the caller's transaction."""
    payments_privacy.redact_events(
        customer_ids=[customer_id for customer_id in customer_ids if customer_id],
        emails=[email for email in person.emails if not is_erased_address(email)],
    )
    memberships = list(_memberships(person).values_list("pk", flat=True))
    for pk in memberships:
        Membership.objects.filter(pk=pk).update(
            email=erased_address("membership", pk),
            cancel_reason="",
            note="",
            card_brand="",
            card_last4="",
            card_payment_method_id="",
        )
        _redact_webhook_deliveries(pk, erased_address("membership", pk))
    gifts_received = list(_gifts_received(person).values_list("pk", flat=True))
    for pk in gifts_received:
        GiftMembership.objects.filter(pk=pk).update(
            recipient_email=erased_address("gift", pk), recipient_name="", message=""
        )
    # The giver's own words go; a gift still to be delivered keeps its recipient.
    gifts_given = list(_gifts_given(person).values_list("pk", flat=True))
    _gifts_given(person).update(giver_name="", message="")
    for pk in _gifts_given(person).exclude(status__in=UNDELIVERED).values_list("pk", flat=True):
        GiftMembership.objects.filter(pk=pk).update(
            recipient_email=erased_address("gift", pk), recipient_name=""
        )
    payments_privacy.pseudonymise_donors(person.donor_ids)
    payments = Payment.objects.filter(donor_id__in=person.donor_ids)
    if person.user is not None:
        _erase_account(person.user)
    _scrub_admin_history(
        (Membership, memberships),
        (GiftMembership, [*gifts_received, *gifts_given]),
        (Donor, person.donor_ids),
        (Payment, payments.values_list("pk", flat=True)),
        (User, [person.user.pk] if person.user else []),
    )


def _redact_webhook_deliveries(membership_pk: int, address: str) -> None:
    """The delivery log's bodies (and those still to be sent) name the member no more;
    the newsroom's systems still get the membership's id, to act on its end."""
    for delivery in WebhookDelivery.objects.filter(membership_id=membership_pk):
        member = delivery.payload.get("data", {}).get("membership", {})
        member.update(email=address, name="")
        delivery.save(update_fields=["payload"])


def _erase_account(user: User) -> None:
    """The account can no longer sign in, and says nothing about who it was."""
    EmailAddress.objects.filter(user=user).delete()
    NewsletterSubscription.objects.filter(user=user).delete()
    user.on_supporters_wall = False
    user.email = erased_address("user", user.pk)
    user.display_name = ""
    user.set_unusable_password()  # and every session it had is signed out
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.last_login = None
    user.save()
    user.groups.clear()
    user.user_permissions.clear()


def _scrub_admin_history(*objects: tuple[type[models.Model], Any]) -> None:
    """Admin's history names each object as it was then (`str()`: often an email): it
    now says `[erased] donor`, `[erased] user`..."""
    for model, pks in objects:
        ids = [str(pk) for pk in pks]
        if not ids:
            continue
        content_type = ContentType.objects.get_for_model(model)
        LogEntry.objects.filter(content_type=content_type, object_id__in=ids).update(
            object_repr=f"{ERASED} {model._meta.verbose_name}"
        )


def is_erased(person: Person) -> bool:
    """Nothing left to erase: the account and every donor record already are."""
    if person.user is not None and not is_erased_address(person.user.email):
        return False
    return (
        not Donor.objects.filter(pk__in=person.donor_ids)
        .exclude(email__endswith=f"@{ERASED_DOMAIN}")
        .exists()
    )
