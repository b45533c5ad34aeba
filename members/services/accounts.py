"""Accounts: the member's profile, the account a guest's paid membership brings, linking
what an address was given once its owner proves it, and account emails sent by the worker."""

from allauth.account.models import EmailAddress
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F

from members.models import OPEN_STATUSES, Membership, User
from members.states import MembershipKind, MembershipOrigin


def update_profile(user: User, *, display_name: str) -> User:
    user.display_name = display_name.strip()
    user.save(update_fields=["display_name"])
    return user


def account_for_guest_membership(membership_id: int) -> User | None:
    """A membership a guest paid for, at its first payment: the account for its address.

    When no account has that address, one is made (no password: its owner signs in with
    a code emailed there, which verifies the address; a password can be set later) and
    the membership joins it. An address that already has an account is never taken
    over: the membership waits (`user=None`) until that account proves the address
    (`link_to_account`). Returns the account made, or None.

    Runs in the caller's transaction (the membership's first payment).
    """
    membership = Membership.objects.filter(
        pk=membership_id,
        user__isnull=True,
        kind=MembershipKind.PAID,
        origin=MembershipOrigin.SITE,
    ).first()
    if membership is None or not membership.email:
        return None
    email = membership.email
    if User.objects.filter(email=email).exists():
        return None
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=None)
    except IntegrityError:  # made meanwhile by another request: an account we do not take over
        return None
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    Membership.objects.filter(pk=membership.pk, user__isnull=True).update(user=user)
    return user


def link_memberships(email: str, user: User) -> None:
    """Memberships given or paid to an address join its account once its owner proves it
    (verified address, or a sign-in by an emailed code).

    An account holds one open paid membership: a second one paid as a guest (the member
    joined again, signed out) stays apart for staff to settle, never breaking the sign-in.
    """
    waiting = Membership.objects.filter(email=email.strip().lower(), user__isnull=True)
    open_paid = {"kind": MembershipKind.PAID, "status__in": OPEN_STATUSES}
    waiting.exclude(**open_paid).update(user=user)
    # Paid ones that started first (newest welcome first), then those never paid.
    started_first = (F("welcomed_at").desc(nulls_last=True), "-created_at")
    for membership in waiting.filter(**open_paid).order_by(*started_first):
        try:
            with transaction.atomic():
                Membership.objects.filter(pk=membership.pk, user__isnull=True).update(user=user)
        except IntegrityError:
            continue


def queue_email(message: EmailMessage) -> None:
    """Send an already rendered email from a Celery task once the transaction commits."""
    from members.tasks import deliver_email

    payload = {
        "subject": message.subject,
        "body": message.body,
        "from_email": message.from_email,
        "to": list(message.to),
        "headers": dict(message.extra_headers),
        "alternatives": [
            [content, mimetype] for content, mimetype in getattr(message, "alternatives", [])
        ],
    }
    transaction.on_commit(lambda: deliver_email.delay(payload))


def deliver_email(payload: dict) -> None:
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["body"],
        from_email=payload["from_email"],
        to=payload["to"],
        headers=payload["headers"],
    )
    for content, mimetype in payload["alternatives"]:
        message.attach_alternative(content, mimetype)
    message.send()
