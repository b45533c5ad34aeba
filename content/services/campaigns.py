"""Campaign counters: gifts and memberships started from a campaign's links count, once each.

payments announces a paid one-time gift (`one_time_payment_succeeded`), members a
membership that has perks for the first time (`membership_started`); content/receivers.py
passes them here. Each counted payment or membership leaves a CampaignContribution row,
unique per campaign and source, so an event processed twice never counts twice; the
campaign's counters move with F() in the same transaction. The cached meter
(`content.support.live_campaign_progress`) is dropped once the change is committed.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from content.models import Campaign, CampaignContribution, GoalKind
from members.models import Membership
from members.states import MembershipKind
from payments.models import Payment
from payments.states import PaymentKind

logger = logging.getLogger(__name__)

Source = CampaignContribution.Source


def count_payment(donation_id: str) -> bool:
    """Count the one-time payment of this donation (a gift, or a gift membership bought:
    one new member) towards the campaign it names. True if it was counted just now."""
    payment = Payment.objects.filter(donation__public_id=donation_id).first()
    if payment is None or not payment.campaign:
        return False
    return _count(
        payment.campaign,
        source=Source.PAYMENT,
        source_id=payment.pk,
        at=payment.paid_at,
        new_members=1 if payment.kind == PaymentKind.GIFT else 0,
        gifts=1,
        amount=payment.amount,
        currency=payment.currency,
    )


def count_membership(membership_id: int) -> bool:
    """Count a membership that just started (its first perks) towards the campaign it
    names: one new member, and a paid one's first amount. True if counted just now."""
    membership = Membership.objects.filter(pk=membership_id).first()
    if membership is None or not membership.campaign:
        return False
    paid = membership.kind == MembershipKind.PAID
    return _count(
        membership.campaign,
        source=Source.MEMBERSHIP,
        source_id=membership.pk,
        at=membership.starts_at,
        new_members=1,
        gifts=0,
        amount=(membership.amount or 0) if paid else 0,
        currency=membership.currency if paid else "",
    )


def _count(
    slug: str,
    *,
    source: str,
    source_id: int,
    at: datetime,
    new_members: int,
    gifts: int,
    amount: int,
    currency: str,
) -> bool:
    campaign = Campaign.objects.live(at=at).filter(slug=slug).first()
    if campaign is None:  # not ours, not started, or over when the money came
        return False
    if campaign.goal_kind != GoalKind.MONEY or currency.upper() != campaign.currency:
        amount = 0  # money counts only towards a money goal in its own currency
    try:
        with transaction.atomic():
            _, created = CampaignContribution.objects.get_or_create(
                campaign=campaign,
                source=source,
                source_id=source_id,
                defaults={"new_members": new_members, "amount": amount},
            )
            if not created:
                return False
            Campaign.objects.filter(pk=campaign.pk).update(
                new_members=F("new_members") + new_members,
                gifts=F("gifts") + gifts,
                amount_raised=F("amount_raised") + amount,
            )
    except IntegrityError:  # a concurrent run of the same event counted it first
        return False
    logger.info("Counted %s %s towards campaign %s", source, source_id, campaign.slug)
    campaign_changed()
    return True


def campaign_changed() -> None:
    """Drop the cached meter and the cached anonymous support blocks that show it: now
    (this process reads afresh) and again once the change is committed (readers
    meanwhile may have cached the old numbers)."""
    from content.api_cache import invalidate_support_cache
    from content.support import forget_live_campaign

    def forget() -> None:
        forget_live_campaign()
        invalidate_support_cache()

    forget()
    transaction.on_commit(forget, robust=True)
