from allauth.account.signals import email_confirmed
from django.dispatch import Signal, receiver

from members.services.comp import link_memberships_to_user
from payments.services.donors import link_donor_to_user

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
