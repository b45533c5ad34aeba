"""What content does when a lower app announces something (connected in apps.py)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from content.models import Campaign
from content.services import campaigns
from members.signals import membership_started
from payments.signals import one_time_payment_succeeded


@receiver(one_time_payment_succeeded, dispatch_uid="content-campaign-payment")
def count_payment_for_campaign(
    sender, donation_id: str, kind: str, campaign: str, **kwargs
) -> None:
    if campaign:  # most gifts come from no campaign: nothing to read
        campaigns.count_payment(donation_id)


@receiver(membership_started, dispatch_uid="content-campaign-membership")
def count_membership_for_campaign(sender, membership_id: int, **kwargs) -> None:
    campaigns.count_membership(membership_id)


@receiver(post_save, sender=Campaign, dispatch_uid="content-campaign-saved")
@receiver(post_delete, sender=Campaign, dispatch_uid="content-campaign-deleted")
def campaign_edited(**kwargs) -> None:
    campaigns.campaign_changed()
