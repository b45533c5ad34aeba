from allauth.account.models import EmailAddress
from allauth.account.signals import email_confirmed
from django.contrib.auth.signals import user_logged_in
from django.dispatch import Signal, receiver

from members.models import User
from members.receipts import describe_payment
from members.services.accounts import account_for_guest_membership, link_memberships
from payments.models import Donor
from payments.receipts import describes_receipts
from payments.services.donors import link_donor_to_user

# Receipts name membership payments by interval and level, with the level's tax line.
describes_receipts(describe_payment)

# What members announces, for higher apps (content's campaigns) to follow without
# members knowing them. Sent inside the caller's transaction, once per membership.
#
# A membership has perks for the first time (paid: first payment; comp: granted;
# gift: claimed). Arguments: membership_id (the Membership's pk, int).
membership_started = Signal()


@receiver(email_confirmed)
def link_earlier_giving(sender, request, email_address, **kwargs) -> None:
    """Gifts given as a guest, and comp and gift memberships granted to an address,
    join its account once its owner proves the address."""
    link_donor_to_user(email_address.email, email_address.user)
    link_memberships(email_address.email, email_address.user)
    adopt_donor_name(email_address.user, email_address.email)


@receiver(user_logged_in, dispatch_uid="members-link-on-sign-in")
def link_on_sign_in(sender, request, user, **kwargs) -> None:
    """A sign-in to an account whose address is verified links what was given or paid to
    that address meanwhile (a membership paid as a guest, say). A sign-in by an emailed
    code verifies the address first (allauth sends email_confirmed); an unverified
    address links nothing: whoever made the account may not own it."""
    email = (user.email or "").strip().lower()
    if email and EmailAddress.objects.filter(user=user, email=email, verified=True).exists():
        link_donor_to_user(email, user)
        link_memberships(email, user)
        adopt_donor_name(user, email)


@receiver(membership_started, dispatch_uid="members-account-for-guest")
def make_account_for_guest(sender, membership_id: int, **kwargs) -> None:
    """A guest's first membership payment brings their account (unless the address has
    one already: that one is never taken over). The name they gave with earlier gifts
    follows them into it."""
    user = account_for_guest_membership(membership_id)
    if user is not None:
        link_donor_to_user(user.email, user)
        adopt_donor_name(user, user.email)


def adopt_donor_name(user: User, email: str) -> None:
    """An account with no name takes the one its owner gave with their gifts at this
    (now proven) address, so emails and the supporters page know it. A name the
    account already has is never replaced."""
    if user.display_name.strip():
        return
    name = (
        Donor.objects.filter(email=email.strip().lower(), user=user)
        .exclude(name="")
        .values_list("name", flat=True)
        .first()
    )
    name = (name or "").strip()[: User._meta.get_field("display_name").max_length]
    if name and User.objects.filter(pk=user.pk, display_name="").update(display_name=name):
        user.display_name = name
