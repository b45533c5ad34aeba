"""Gift memberships: bought by one reader for another, paid once, claimed with a link.

The payment is a one-time Donation of kind "gift", so the card flow, the
ledger row and the giver's receipt are the one-time gift's. This module adds
what is particular to gifts:

    start_gift ─> (card paid: payment_intent.succeeded) ─> gift_paid
        ─> send on `send_on` (now, or by the hourly `send_due_gifts`)
        ─> the recipient claims it with the link: a gift Membership for `months`.

Refunded (all of it, or in part when staff chose to end it): the gift is refunded and
the membership it became, if claimed, ends now (end_refunded_gift).

Statuses move only through members.states.GIFT.
"""

import logging
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Min
from django.urls import reverse
from django.utils import timezone

from config.emails import send_templated
from config.errors import Refused
from members.models import GiftMembership, LevelAmount, Membership, MembershipLevel, User
from members.selectors import level_for
from members.services.stripe_sync import announce_changes, lock_membership
from members.states import (
    GIFT,
    GIFT_MONTHS,
    MEMBERSHIP,
    GiftStatus,
    Interval,
    MembershipKind,
    MembershipStatus,
)
from payments.money import Money
from payments.services import donations
from payments.states import DonationStatus, PaymentKind

logger = logging.getLogger(__name__)

# How far ahead a giver may schedule the recipient's email.
MAX_SEND_AHEAD = timedelta(days=365)


class GiftNotFound(Exception):
    """No gift has this claim token."""


# --- Price and checks ------------------------------------------------------------------


def monthly_price(currency: str) -> int | None:
    """The cheapest monthly amount of an active level in this currency (minor units)."""
    return LevelAmount.objects.filter(
        currency=currency.upper(), interval=Interval.MONTH, level__is_active=True
    ).aggregate(lowest=Min("amount"))["lowest"]


def gift_level(currency: str) -> MembershipLevel | None:
    """The level a gift membership gives: the one whose monthly price sets the gift's."""
    price = monthly_price(currency)
    return level_for(price, currency.upper(), Interval.MONTH) if price is not None else None


def gift_prices() -> dict[str, dict[int, int]]:
    """{currency: {months: amount}} for the gift page: the monthly price times the months."""
    rows = (
        LevelAmount.objects.filter(interval=Interval.MONTH, level__is_active=True)
        .values("currency")
        .annotate(lowest=Min("amount"))
    )
    return {row["currency"]: {m: row["lowest"] * m for m in GIFT_MONTHS} for row in rows}


def check_gift_details(*, months: int, send_on: date, today: date | None = None) -> None:
    """Months offered, and a send date from today up to a year ahead."""
    today = today or timezone.localdate()
    if months not in GIFT_MONTHS:
        raise Refused(
            "Choose " + ", ".join(str(m) for m in GIFT_MONTHS) + " months.", field="months"
        )
    if send_on < today:
        raise Refused("The send date cannot be in the past.", field="send_on")
    if send_on > today + MAX_SEND_AHEAD:
        raise Refused("The send date can be at most a year from today.", field="send_on")


def gift_amount(*, months: int, currency: str, amount: int | None = None) -> int:
    """What the giver pays: the monthly price times the months, or more if they choose.

    Never less: a gift membership is worth the months it gives. In a currency with no
    membership price, the giver names the amount (within the currency's bounds).
    """
    currency = currency.upper()
    price = monthly_price(currency)
    if amount is None:
        if price is None:
            raise Refused(f"Please enter an amount in {currency}.", field="amount")
        amount = price * months
    elif price is not None and amount < price * months:
        raise Refused(
            f"A {months}-month gift membership costs at least {Money(price * months, currency)}.",
            field="amount",
        )
    donations.check_amount(amount, currency)
    return amount


# --- Buying ----------------------------------------------------------------------------


def start_gift(
    *,
    months: int,
    currency: str,
    giver_email: str,
    recipient_email: str,
    send_on: date,
    amount: int | None = None,
    giver_name: str = "",
    recipient_name: str = "",
    message: str = "",
    cover_fees: bool = False,
    user: User | None = None,
    attribution: dict | None = None,
    today: date | None = None,
    client_ip: str | None = None,
) -> GiftMembership:
    """Record the gift (awaiting payment) and its Donation.

    The page then pays with payments' pay call and the card it entered, like a one-time
    gift. Raises Refused
    (nothing stored) or GatewayError. Failed card checks count against `client_ip`.
    Stripe is asked first; the gift is stored with its Donation in one transaction.
    """
    check_gift_details(months=months, send_on=send_on, today=today)
    try:
        validate_email(recipient_email)
    except ValidationError:
        raise Refused("Enter a valid email address.", field="recipient_email") from None
    amount = gift_amount(months=months, currency=currency, amount=amount)
    stored: list[GiftMembership] = []

    def store_gift(donation) -> None:
        stored.append(
            GiftMembership.objects.create(
                donation=donation,
                giver_name=giver_name.strip(),
                recipient_email=recipient_email,
                recipient_name=recipient_name.strip(),
                message=message.strip(),
                months=months,
                send_on=send_on,
                **donation.attribution(),
            )
        )

    donations.start_donation(
        amount=amount,
        currency=currency,
        email=giver_email,
        name=giver_name,
        cover_fees=cover_fees,
        user=user,
        attribution=attribution,
        kind=PaymentKind.GIFT,
        client_ip=client_ip,
        stored_with=store_gift,
    )
    return stored[0]


def gift_paid(donation_public_id, *, today: date | None = None) -> GiftMembership | None:
    """The gift's donation is paid: the gift is paid, and sent now if its day has come.

    Called by the payment_intent.succeeded handler after the ledger row; safe to
    run twice (the row lock queues concurrent runs, and statuses only move forward).
    """
    with transaction.atomic():
        gift = (
            GiftMembership.objects.select_for_update(of=("self",))
            .select_related("donation")
            .filter(donation__public_id=donation_public_id)
            .first()
        )
        if gift is None:
            logger.warning("Gift donation %s has no gift membership", donation_public_id)
            return None
        if gift.donation.status != DonationStatus.SUCCEEDED:
            return gift
        if GIFT.advance(gift, GiftStatus.PAID):
            gift.save(update_fields=["status"])
        _send_if_due(gift, today or timezone.localdate())
        return gift


def gift_payment_failed(donation_public_id) -> None:
    """The card was declined: the gift shows as failed until another card pays it."""
    with transaction.atomic():
        gift = (
            GiftMembership.objects.select_for_update()
            .filter(donation__public_id=donation_public_id)
            .first()
        )
        if gift is not None and GIFT.advance(gift, GiftStatus.FAILED):
            gift.save(update_fields=["status"])


def send_due_gifts(*, today: date | None = None) -> int:
    """Send the paid gifts whose day has come (beat task); returns how many were sent."""
    today = today or timezone.localdate()
    due = GiftMembership.objects.filter(status=GiftStatus.PAID, send_on__lte=today).values_list(
        "pk", flat=True
    )
    sent = 0
    for pk in due:
        with transaction.atomic():
            gift = GiftMembership.objects.select_for_update().get(pk=pk)
            sent += _send_if_due(gift, today)
    return sent


def _send_if_due(gift: GiftMembership, today: date) -> bool:
    """Mark a (locked) paid gift sent and email the recipient once the transaction commits."""
    from members.tasks import send_gift_email

    if gift.status != GiftStatus.PAID or gift.send_on > today:
        return False
    GIFT.advance(gift, GiftStatus.SENT)
    gift.sent_at = timezone.now()
    gift.save(update_fields=["status", "sent_at"])
    pk = gift.pk
    transaction.on_commit(lambda: send_gift_email.delay(pk), robust=True)
    return True


def claim_url(gift: GiftMembership) -> str:
    return settings.SITE_URL + reverse("gifts:claim", args=[gift.claim_token])


def send_recipient_email(gift_pk: int) -> None:
    """The recipient's email: who gave it, their message, and the claim link.

    Whether to send is decided once, by the service that marked the gift sent.
    """
    gift = GiftMembership.objects.select_related("donation").get(pk=gift_pk)
    giver = gift.giver_name or "Someone"
    send_templated(
        "members/gift/email/recipient",
        f"{giver} gave you a membership of {settings.ORGANIZATION_NAME}",
        gift.recipient_email,
        {"gift": gift, "giver": giver, "claim_url": claim_url(gift)},
    )


# --- Claiming --------------------------------------------------------------------------


def gift_for_token(token: str) -> GiftMembership | None:
    query = GiftMembership.objects.select_related("membership__user")
    return query.filter(claim_token=token).first()


def gift_ends_at(months: int, start: datetime | None = None) -> datetime:
    return (start or timezone.now()) + relativedelta(months=months)


@transaction.atomic
def claim_gift(token: str, user: User) -> Membership:
    """The signed-in reader holding the link becomes a member for the gift's months.

    Any account may claim (the recipient may use another address). Claiming
    again returns the same membership; someone else's claim of a claimed gift is refused.
    """
    gift = GiftMembership.objects.select_for_update().filter(claim_token=token).first()
    if gift is None:
        raise GiftNotFound(token)
    if gift.status == GiftStatus.CLAIMED:
        if gift.membership is not None and gift.membership.user_id == user.pk:
            return gift.membership
        raise Refused("This gift has already been claimed.")
    if gift.status == GiftStatus.REFUNDED:
        raise Refused("This gift was refunded to the giver: it can no longer be claimed.")
    if gift.status not in (GiftStatus.PAID, GiftStatus.SENT):
        raise Refused("This gift has not been paid for yet.")
    now = timezone.now()
    membership = Membership.objects.create(
        user=user,
        email=user.email,
        kind=MembershipKind.GIFT,
        status=MembershipStatus.ACTIVE,
        starts_at=now,
        ends_at=gift_ends_at(gift.months, now),
        level=gift_level(gift.donation.currency),
        note=f"Gift of {gift.months} months from {gift.giver_name or 'a reader'}"[:500],
    )
    GIFT.advance(gift, GiftStatus.CLAIMED)
    gift.membership = membership
    gift.claimed_at = now
    gift.save(update_fields=["status", "membership", "claimed_at"])
    announce_changes(membership)
    return membership


# --- Refunded --------------------------------------------------------------------------


def end_refunded_gift(donation_id: int) -> GiftMembership | None:
    """The gift's payment was refunded (in full, or staff chose to end it): the gift is
    refunded, cannot be claimed any more, and the membership it became ends now.

    Idempotent (a refund event may come twice). Locks in the one order: the membership,
    then its gift; a claim made between the read and the locks is read again.
    """
    for _ in range(3):
        gift = GiftMembership.objects.filter(donation_id=donation_id).first()
        if gift is None:
            logger.warning("Refunded gift donation %s has no gift membership", donation_id)
            return None
        with transaction.atomic():
            membership = lock_membership(gift.membership_id) if gift.membership_id else None
            gift = GiftMembership.objects.select_for_update(of=("self",)).get(pk=gift.pk)
            if gift.membership_id != (membership.pk if membership else None):
                continue  # claimed meanwhile: again, locking its membership first
            if GIFT.advance(gift, GiftStatus.REFUNDED):
                gift.save(update_fields=["status"])
            if membership is not None and MEMBERSHIP.advance(membership, MembershipStatus.CANCELED):
                membership.ended_at = membership.ended_at or timezone.now()
                membership.save()
                announce_changes(membership)
            return gift
    raise RuntimeError(f"Gift of donation {donation_id} kept changing while being ended.")
