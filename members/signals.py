from allauth.account.signals import email_confirmed
from django.dispatch import Signal, receiver

from members.models import User
from members.receipts import describe_payment
from members.services.comp import link_memberships_to_user
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
    link_memberships_to_user(email_address.email, email_address.user)
    adopt_donor_name(email_address.user, email_address.email)


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
