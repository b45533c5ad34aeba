"""Card testing: failed card checks counted, each start's card attempts bounded, sources blocked.

A card tester tries card after card on one start. On a gift or a join each card
is tried by our own server (/pay, the join's confirm), behind the rate limits; the
browser gets a client secret only for a payment the bank wants authenticated (a
PaymentIntent's, for 3-D Secure) or to set up a card on the card-update page (a
SetupIntent's), and Stripe.js can confirm either directly against Stripe with other
cards. Those requests never reach us; Stripe tells us of each declined one
(`setup_intent.setup_failed`, `payment_intent.payment_failed`, a first membership
invoice's `invoice.payment_failed`), and our own paths see their declines. Each
failed card check is:

1. counted against its start (a gift, a gift membership, a join, or a membership's
   card-update form): at DONATION_MAX_CARD_ATTEMPTS the start is closed, its open
   PaymentIntent (or SetupIntent) canceled at Stripe so the secret confirms nothing
   more, and the reader is told to start again;
2. counted against the client address the start came from (an IPv6 address as its
   /64, `ratelimit.address_key`), the guest's email
   (normalised by `ratelimit.email_key`) or the signed-in member's account, and
   the card's fingerprint. A source whose failures in a window reach its
   threshold (CARD_FAILURES_PER_IP / _PER_EMAIL / _PER_CARD, COUNT/PERIOD) is
   blocked for CARD_BLOCK_SECONDS: its new starts are refused (429) unless it
   passes DONATION_CHALLENGE, a blocked card is never charged, and an open start
   of a blocked source is closed at its next failure.

A signed-in member giving as themselves is counted per account, never per
email: a stranger typing the member's address fills that email's guest bucket,
which the member does not use.

Why the database and not the cache (where the start rate limits live): a
failed card check is rare (each one reached a bank), so one row each costs
nothing; the unique `key` counts a failure once however often it is reported
(our /pay answer and Stripe's event about the same decline, a redelivered or
reconciled event), which cache counters cannot do; the counts survive a cache
flush or restart, which a tester would otherwise wait for; and the rows are
the evidence behind a block. Rows older than the longest window are deleted as
new ones come (they hold addresses and emails, and count for nothing any more).
Blocks are rows too (`CardTestingBlock`), which staff see and lift in admin.

Counting is serialised per source (a transaction-scoped advisory lock on
PostgreSQL, taken in one sorted order; SQLite runs one writer at a time), so
failures reported at the same moment (a tester's cards, processed by several
workers) each see the others and the threshold trips when it should.
"""

import hashlib
import ipaddress
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from config.ratelimit import address_key, email_key, parse_rate
from payments import stripe_gateway as gateway
from payments.models import CardCheckFailure, CardCheckSource, CardTestingBlock, Donation
from payments.states import DONATION, DonationStatus

logger = logging.getLogger(__name__)

START_AGAIN = "Please start again."
DONATION_ATTEMPTS_USED_UP = "Too many card attempts for this gift. Please start again."
CARD_BLOCKED = (
    "This card has been declined too many times. Please try again later or use another card."
)
SOURCE_BLOCKED = (
    "Too many card attempts have failed. New payments from here are paused for a while: "
    "please try again later."
)
SOURCE_BLOCKED_CHALLENGE = (
    "Too many card attempts have failed. Please complete the check and try again."
)

# Which setting holds each source's threshold, and the failure column it counts.
THRESHOLD_SETTING = {
    CardCheckSource.IP: "CARD_FAILURES_PER_IP",
    CardCheckSource.EMAIL: "CARD_FAILURES_PER_EMAIL",
    CardCheckSource.ACCOUNT: "CARD_FAILURES_PER_EMAIL",
    CardCheckSource.CARD: "CARD_FAILURES_PER_CARD",
}
COUNTED_BY = {
    CardCheckSource.IP: "client_network",
    CardCheckSource.EMAIL: "email",
    CardCheckSource.ACCOUNT: "user_id",
    CardCheckSource.CARD: "card_fingerprint",
}


@dataclass(frozen=True)
class CardFailure:
    """One failed card check as Stripe (or our own call) reported it.

    `key` names what failed, the same whichever way it is reported, so it counts once.
    """

    key: str
    stage: str  # "setup" | "payment"
    card: str | None = None  # the card's fingerprint, when Stripe says
    setup_intent_id: str | None = None
    payment_intent_id: str | None = None


@dataclass(frozen=True)
class Starter:
    """Who a start counts against: where it came from, and the guest's email or the member."""

    label: str  # "gift <uuid>", for staff
    ip: str | None
    email: str = ""  # a guest's (normalised when counted); empty when a member started it
    user_id: int | None = None


def valid_ip(text: str | None) -> str | None:
    """The client address as stored, or None when there is none worth storing."""
    try:
        return str(ipaddress.ip_address((text or "").strip()))
    except ValueError:
        return None


def setup_failure(setup: gateway.SetupIntentInfo, *, event_id: str) -> CardFailure:
    """A SetupIntent confirmation Stripe declined (each card tried is a new payment method)."""
    tried = setup.failed_payment_method_id or event_id
    return CardFailure(
        key=f"setup:{setup.id}:{tried}",
        stage="setup",
        card=setup.card_fingerprint,
        setup_intent_id=setup.id,
    )


def payment_failure(intent: gateway.IntentInfo, *, card: str | None = None) -> CardFailure:
    """A declined payment, named by its PaymentIntent and the failed charge (or the error,
    for an authentication that failed before any charge), as Stripe's event names it."""
    attempt = intent.charge_id or intent.error_code or "declined"
    return CardFailure(
        key=f"payment:{intent.id}:{attempt}",
        stage="payment",
        card=intent.card_fingerprint or card,
        payment_intent_id=intent.id,
    )


def _sources(
    *,
    ip: str | None = None,
    email: str | None = None,
    user_id: int | None = None,
    card: str | None = None,
) -> list[tuple[str, str]]:
    """(source, value) pairs for what is known; a member's account replaces their email."""
    sources = []
    if valid_ip(ip):  # an IPv6 address counts as its /64, as in the rate limits
        sources.append((CardCheckSource.IP, address_key(valid_ip(ip))))
    if user_id is not None:
        sources.append((CardCheckSource.ACCOUNT, str(user_id)))
    elif email:
        sources.append((CardCheckSource.EMAIL, email_key(email)))
    if card:
        sources.append((CardCheckSource.CARD, card))
    return sources


def active_block(
    *,
    ip: str | None = None,
    email: str | None = None,
    user_id: int | None = None,
    card: str | None = None,
    now: datetime | None = None,
) -> CardTestingBlock | None:
    """The block in force on any of these sources, or None.

    Pass `user_id` for a signed-in member (their account is what counts), `email`
    for a guest.
    """
    wanted = Q(pk__in=[])
    for source, value in _sources(ip=ip, email=email, user_id=user_id, card=card):
        wanted |= Q(source=source, value=value)
    return (
        CardTestingBlock.objects.filter(wanted, until__gt=now or timezone.now())
        .order_by("-until")
        .first()
    )


def _in_words(seconds: int) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"


def _longest_window() -> timedelta:
    windows = [parse_rate(getattr(settings, name))[1] for name in set(THRESHOLD_SETTING.values())]
    return timedelta(seconds=max(windows))


def _serialise(sources: list[tuple[str, str]]) -> None:
    """Hold, until the transaction ends, one lock per source, taken in a sorted order."""
    if connection.vendor != "postgresql":
        return  # SQLite: one writer at a time already
    keys = sorted(
        {
            int.from_bytes(hashlib.sha256(f"{source}:{value}".encode()).digest()[:8], "big")
            - 2**63  # a signed 64-bit key
            for source, value in sources
        }
    )
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@transaction.atomic
def record_failure(failure: CardFailure, starter: Starter, *, now: datetime | None = None) -> bool:
    """Count one failed card check (once, by its key) against the start's sources and the
    card; block each source that reaches its threshold. Says whether it was new."""
    now = now or timezone.now()
    sources = _sources(
        ip=starter.ip, email=starter.email, user_id=starter.user_id, card=failure.card
    )
    _serialise(sources)
    try:
        with transaction.atomic():
            CardCheckFailure.objects.create(
                key=failure.key[:255],
                stage=failure.stage,
                start=starter.label[:100],
                client_ip=valid_ip(starter.ip),
                client_network=address_key(valid_ip(starter.ip) or ""),
                email="" if starter.user_id is not None else email_key(starter.email),
                user_id=starter.user_id,
                card_fingerprint=(failure.card or "")[:64],
                created_at=now,
            )
    except IntegrityError:
        return False  # the same failure, reported again
    forget_old_failures(now=now)
    for source, value in sources:
        _block_if_over_threshold(source, value, now=now)
    return True


def forget_old_failures(*, now: datetime | None = None) -> int:
    """Delete failed card checks too old to count towards any block (they hold client
    addresses and emails); run with every new failure, and callable by a retention job."""
    cutoff = (now or timezone.now()) - _longest_window()
    deleted, _ = CardCheckFailure.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _block_if_over_threshold(source: str, value: str, *, now: datetime) -> None:
    limit, window = parse_rate(getattr(settings, THRESHOLD_SETTING[source]))
    if limit == 0:  # a threshold of 0 turns this source's blocking off
        return
    since = now - timedelta(seconds=window)
    previous = CardTestingBlock.objects.filter(source=source, value=value).first()
    if previous is not None and previous.lifted_at is not None and previous.lifted_at > since:
        since = previous.lifted_at  # staff forgave what came before
    failures = CardCheckFailure.objects.filter(
        **{COUNTED_BY[source]: value}, created_at__gt=since, created_at__lte=now
    ).count()
    if failures < limit:
        return
    until = now + timedelta(seconds=settings.CARD_BLOCK_SECONDS)
    reason = f"{failures} failed card checks within {_in_words(window)}"
    with transaction.atomic():
        block, created = CardTestingBlock.objects.select_for_update().get_or_create(
            source=source,
            value=value,
            defaults={
                "user_id": int(value) if source == CardCheckSource.ACCOUNT else None,
                "reason": reason,
                "failures": failures,
                "blocked_at": now,
                "until": until,
            },
        )
        if not created:
            if block.until <= now:  # the last block had ended (or was lifted): a new one
                block.times_blocked += 1
                block.blocked_at = now
                block.lifted_at = None
                block.lifted_by = None
            block.until = max(block.until, until)
            block.reason = reason
            block.failures = failures
            block.save()
    logger.warning("Card testing: %s block %s until %s (%s)", source, block.pk, until, reason)


def lift_blocks(blocks, *, by) -> int:
    """Staff lift blocks now; the failures counted before no longer count towards a new one."""
    now = timezone.now()
    return CardTestingBlock.objects.filter(
        pk__in=[block.pk for block in blocks], until__gt=now
    ).update(until=now, lifted_at=now, lifted_by=by)


# --- Whose start a declined card belongs to ----------------------------------------------
# Stripe objects name their start in metadata: a gift by payments' key, a membership's
# card form by members' key (members registers it when its app is ready).

StartCounter = Callable[[str, CardFailure], bool]
_start_counters: dict[str, StartCounter] = {}


def counts_starts_named_by(metadata_key: str) -> Callable[[StartCounter], StartCounter]:
    """Register the decorated `counter(start_id, failure) -> bool` for Stripe objects whose
    metadata names a start under `metadata_key`; it says whether that start is ours."""

    def register(counter: StartCounter) -> StartCounter:
        _start_counters[metadata_key] = counter
        return counter

    return register


def count_failed_start(metadata: dict, failure: CardFailure) -> bool:
    """Count a declined card against the start the Stripe object's metadata names (by its
    public id, a UUID: anything else names nothing of ours); False when it names none."""
    return any(
        counter(metadata[key], failure)
        for key, counter in _start_counters.items()
        if _is_uuid(metadata.get(key))
    )


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return bool(value)


# --- Gifts (one-time and gift memberships) ---------------------------------------------


def donation_starter(donation: Donation) -> Starter:
    """A signed-in member gives as themselves (the form takes their address): their account
    counts; a guest's typed email counts otherwise."""
    member = donation.user_id is not None
    return Starter(
        label=f"{donation.get_kind_display().lower()} {donation.public_id}",
        ip=donation.client_ip,
        email="" if member else donation.donor.email,
        user_id=donation.user_id,
    )


def record_donation_failure(
    donation: Donation, failure: CardFailure, *, now: datetime | None = None
) -> bool:
    """Count a failed card check of a gift the caller holds locked; say whether the gift
    must now be closed (it has used up its attempts, or a source of it is blocked).

    Nothing is asked of Stripe here: the caller closes it (`close_donation`) once its
    lock is released.
    """
    starter = donation_starter(donation)
    if record_failure(failure, starter, now=now):
        donation.card_failures += 1
        donation.save(update_fields=["card_failures", "updated_at"])
    if donation.status == DonationStatus.SUCCEEDED:
        return False
    used_up = donation.card_failures >= settings.DONATION_MAX_CARD_ATTEMPTS
    blocked = active_block(
        ip=starter.ip, email=starter.email, user_id=starter.user_id, card=failure.card, now=now
    )
    return bool(used_up or blocked)


def count_donation_failure(
    donation: Donation, failure: CardFailure, *, now: datetime | None = None
) -> bool:
    """Count a failed card check of a gift; close the gift when it has used up its attempts
    or a source of it is blocked. Says whether the gift is closed.

    Call it with no transaction open: the gift is locked only to count, and closing it
    asks Stripe after that lock is released. `donation` is brought up to date.
    """
    with transaction.atomic():
        closing = record_donation_failure(_locked(donation), failure, now=now)
    if closing:
        return close_donation(donation, failure)
    donation.refresh_from_db()
    return False


def _locked(donation: Donation) -> Donation:
    return (
        Donation.objects.select_for_update(of=("self",)).select_related("donor").get(pk=donation.pk)
    )


def _open_intents(donation: Donation, failure: CardFailure | None) -> set[str]:
    """The gift's PaymentIntents whose client secrets could still confirm."""
    return {donation.stripe_payment_intent_id, failure and failure.payment_intent_id} - {"", None}


def close_donation(donation: Donation, failure: CardFailure | None = None) -> bool:
    """No more cards for this gift: its open PaymentIntents are canceled at Stripe (their
    client secrets confirm nothing more), then the gift is abandoned and
    the reader is told to start again. A payment that got through meanwhile stays (a
    canceled PaymentIntent cannot have succeeded). Says whether the gift is closed.

    Call it with no lock held: Stripe first (each cancel has its idempotency key), then
    the gift's lock for the state change only. A card attempt opened meanwhile (another
    request) is found under that lock and canceled in turn before the gift is abandoned.
    `donation` is brought up to date.
    """
    prefix = f"donation-{donation.public_id}-cancel"
    canceled: set[str] = set()
    current = donation
    while True:
        for intent_id in sorted(_open_intents(current, failure) - canceled):
            intent = gateway.cancel_payment_intent(
                intent_id, idempotency_key=f"{prefix}-{intent_id}"
            )
            canceled.add(intent_id)
            if intent is not None and intent.status in ("succeeded", "processing"):
                donation.refresh_from_db()  # the money is on its way: its own event records it
                return donation.status == DonationStatus.ABANDONED
        with transaction.atomic():
            current = _locked(donation)
            if not _open_intents(current, failure) - canceled:
                if DONATION.advance(current, DonationStatus.ABANDONED):
                    current.last_error = DONATION_ATTEMPTS_USED_UP
                    current.save()
                break
    donation.refresh_from_db()
    return donation.status == DonationStatus.ABANDONED


def closed_for_card_testing(donation: Donation) -> bool:
    """Whether the gift was closed here (used up its card attempts, or its source blocked)."""
    return (
        donation.status == DonationStatus.ABANDONED
        and donation.last_error == DONATION_ATTEMPTS_USED_UP
    )
