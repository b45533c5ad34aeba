from allauth.account.signals import email_confirmed
from django.dispatch import receiver

from members.services import link_memberships_to_user


@receiver(email_confirmed)
def link_memberships(sender, request, email_address, **kwargs) -> None:
    """Comp and gift memberships granted to an address join its account once it is proven."""
    link_memberships_to_user(email_address.email, email_address.user)
