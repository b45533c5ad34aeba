from allauth.account.signals import email_confirmed
from django.dispatch import receiver

from payments.services import link_donor_to_user


@receiver(email_confirmed)
def link_earlier_gifts(sender, request, email_address, **kwargs) -> None:
    """Gifts given as a guest join the account once its owner proves the address."""
    link_donor_to_user(email_address.email, email_address.user)
