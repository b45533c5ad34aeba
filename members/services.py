import contextlib
import logging
import uuid
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone

from members.models import OPEN_STATUSES, LevelAmount, Membership, MembershipLevel, User
from members.states import (
    FROM_STRIPE,
    MEMBERSHIP,
    Interval,
    MembershipKind,
    MembershipStatus,
)
from payments import card_testing
from payments import services as payments_services
from payments import stripe_gateway as gateway
from payments.models import Donor, Payment
from payments.services import PayOutcome

logger = logging.getLogger(__name__)


def update_profile(user: User, *, display_name: str) -> User:
    user.display_name = display_name.strip()
    user.save(update_fields=["display_name"])
    return user


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


# --- Memberships ---------------------------------------------------------------------
#
# A paid membership is a Stripe Subscription. The join page opens a SetupIntent
# for the card (Stripe.js confirms it, 3-D Secure included), then
# `confirm_membership` subscribes the customer and the first invoice is charged
# to that card. From then on Stripe's events keep the membership in step:
# subscription snapshots are applied when they are no older than what we have,
# and each paid invoice becomes one ledger row and one receipt.

META_MEMBERSHIP = "patronage_membership"


class MembershipRefused(Exception):
    """A membership change we will not make; `message` is for the member."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def level_for(amount: int, currency: str, interval: str) -> MembershipLevel | None:
    """The highest active level this amount reaches in its currency and interval."""
    price = (
        LevelAmount.objects.filter(
            currency=currency, interval=interval, amount__lte=amount, level__is_active=True
        )
        .select_related("level")
        .order_by("-amount")
        .first()
    )
    return price.level if price else None


@transaction.atomic
def start_membership(
    *,
    user: User,
    amount: int,
    currency: str,
    interval: str,
    attribution: dict | None = None,
    client_ip: str | None = None,
) -> tuple[Membership, str]:
    """Record the membership (incomplete) and open a SetupIntent for its card.

    Returns the membership and the SetupIntent's client secret for Stripe.js.
    A reader who comes back before paying starts again on the same record; one
    whose first payment failed gets a new one (the unpaid subscription is canceled).
    Each start has its own DONATION_MAX_CARD_ATTEMPTS failed card checks, counted
    against `client_ip` and the account too (payments/card_testing.py).
    """
    currency = currency.upper()
    try:
        payments_services.check_gift_amount(amount, currency)
    except payments_services.DonationRefused as exc:
        raise MembershipRefused(exc.message, field=exc.field) from exc
    if interval not in Interval.values:
        raise MembershipRefused("Choose monthly or yearly.", field="interval")
    current = (
        Membership.objects.select_for_update()
        .filter(user=user, kind=MembershipKind.PAID, status__in=OPEN_STATUSES)
        .first()
    )
    if current is not None and current.status != MembershipStatus.INCOMPLETE:
        raise MembershipRefused(
            "You are already a member. You can change your amount on your account page."
        )
    if current is not None and current.stripe_subscription_id:
        # Its first payment never went through: that subscription is dropped, we start anew.
        abandoned = gateway.cancel_subscription(
            current.stripe_subscription_id,
            idempotency_key=f"membership-{current.public_id}-end-{current.stripe_subscription_id}",
        )
        apply_subscription(current, abandoned, as_of=_stripe_now())
        current = None
    donor = payments_services.get_or_create_donor(user.email, name=user.display_name, user=user)
    membership = current or Membership(
        user=user,
        email=user.email,
        kind=MembershipKind.PAID,
        status=MembershipStatus.INCOMPLETE,
    )
    membership.donor = donor
    membership.amount, membership.currency, membership.interval = amount, currency, interval
    membership.level = level_for(amount, currency, interval)
    for name, value in (attribution or {}).items():
        setattr(membership, name, value)
    membership.card_failures = 0
    membership.client_ip = card_testing.valid_ip(client_ip)
    membership.save()
    setup = gateway.create_setup_intent(
        customer_id=payments_services.ensure_stripe_customer(donor),
        metadata={META_MEMBERSHIP: str(membership.public_id)},
        usage="off_session",  # renewals charge it while the member is away
        idempotency_key=_setup_key(membership),
    )
    membership.stripe_setup_intent_id = setup.id
    membership.save(update_fields=["stripe_setup_intent_id", "updated_at"])
    return membership, setup.client_secret


def _setup_key(membership: Membership) -> str:
    # Derived from the record's state: a new key once the previous SetupIntent is used.
    previous = membership.stripe_setup_intent_id or "first"
    return f"membership-{membership.public_id}-setup-{previous}"


def confirm_membership(membership: Membership) -> PayOutcome:
    """Subscribe with the card the reader just confirmed, or say where the first payment is.

    Safe to call again (after 3-D Secure, or twice): the subscription is created
    once (idempotency key from the membership), and a later card for a declined
    first payment pays the same open invoice.
    """
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update(of=("self",))
            .select_related("donor")
            .get(pk=membership.pk)
        )
        if membership.status != MembershipStatus.INCOMPLETE:
            if membership.has_perks:
                return PayOutcome("succeeded")
            return PayOutcome("failed", message=_closed_message(membership))
        if membership.card_failures >= settings.DONATION_MAX_CARD_ATTEMPTS:
            raise MembershipRefused(CARD_ATTEMPTS_USED_UP)
        setup = gateway.retrieve_setup_intent(membership.stripe_setup_intent_id)
        if setup.status != "succeeded" or not setup.payment_method_id:
            raise MembershipRefused("Please enter your card details.", field="card")
        if card_testing.active_block(card=setup.card_fingerprint):
            raise MembershipRefused(card_testing.CARD_BLOCKED, field="card")
        customer_id = payments_services.ensure_stripe_customer(membership.donor)
        gateway.set_default_payment_method(
            customer_id=customer_id,
            payment_method_id=setup.payment_method_id,
            idempotency_key=f"membership-{membership.public_id}-card-{setup.id}",
        )
        if membership.stripe_subscription_id:
            subscription = gateway.retrieve_subscription(membership.stripe_subscription_id)
            invoice = gateway.retrieve_invoice(subscription.latest_invoice_id)
            if subscription.status == "incomplete" and invoice.status == "open":
                intent = gateway.retrieve_payment_intent(invoice.payment_intent_id)
                if intent.status == "requires_payment_method":  # declined: try the new card
                    _pay_on_session(invoice, setup)
                    subscription = gateway.retrieve_subscription(subscription.id)
        else:
            subscription = _subscribe(membership, customer_id)
            membership.stripe_subscription_id = subscription.id
        apply_subscription(membership, subscription, as_of=_stripe_now())
        if membership.has_perks:
            return PayOutcome("succeeded")
        return _first_payment_outcome(membership, subscription, card=setup.card_fingerprint)


def _subscribe(membership: Membership, customer_id: str) -> gateway.SubscriptionInfo:
    """The membership's subscription at its amount: created, or found again when an
    earlier attempt reached Stripe but was never stored (a timeout, a rolled-back step).

    A found one that is still unpaid but at another amount (the reader changed it
    since) is canceled and a new one made; one already paid is kept as it is.
    """
    plan_id = gateway.ensure_plan(
        amount=membership.amount,
        currency=membership.currency,
        interval=membership.interval,
        product_name=f"{settings.ORGANIZATION_NAME} membership",
    )
    earlier = gateway.find_subscription(
        customer_id=customer_id, metadata_key=META_MEMBERSHIP, value=str(membership.public_id)
    )
    if earlier is not None and (earlier.plan_id == plan_id or earlier.status != "incomplete"):
        return earlier
    if earlier is not None:
        gateway.cancel_subscription(
            earlier.id, idempotency_key=f"membership-{membership.public_id}-end-{earlier.id}"
        )
    return gateway.create_subscription(
        customer_id=customer_id,
        plan_id=plan_id,
        metadata={META_MEMBERSHIP: str(membership.public_id)},
        idempotency_key=f"membership-{membership.public_id}-subscribe",
    )


def _pay_on_session(invoice: gateway.InvoiceInfo, setup: gateway.SetupIntentInfo) -> None:
    """Pay an open invoice with the card just saved, while the member is on the page.

    Stripe answers a decline, and a bank that wants 3-D Secure, with a 402: the
    invoice's PaymentIntent then says which, and the caller reads it from there.
    """
    with contextlib.suppress(gateway.CardDeclined):
        gateway.pay_invoice(
            invoice.id, off_session=False, idempotency_key=f"{invoice.id}-{setup.id}"
        )


def _first_payment_outcome(
    membership: Membership, subscription: gateway.SubscriptionInfo, *, card: str | None = None
) -> PayOutcome:
    invoice = gateway.retrieve_invoice(subscription.latest_invoice_id)
    intent = gateway.retrieve_payment_intent(invoice.payment_intent_id)
    if intent.status == "requires_action":
        return PayOutcome("requires_action", client_secret=intent.client_secret)
    if intent.status in ("processing", "succeeded"):
        return PayOutcome("succeeded")
    declined = intent.error_message or "Your card was declined."
    if count_membership_failure(membership, card_testing.payment_failure(intent, card=card)):
        return PayOutcome("failed", message=f"{declined} {card_testing.START_AGAIN}")
    # Declined: a fresh SetupIntent lets the reader try another card on the same invoice.
    setup = gateway.create_setup_intent(
        customer_id=membership.donor.stripe_customer_id,
        metadata={META_MEMBERSHIP: str(membership.public_id)},
        usage="off_session",  # renewals charge it while the member is away
        idempotency_key=_setup_key(membership),
    )
    membership.stripe_setup_intent_id = setup.id
    membership.save(update_fields=["stripe_setup_intent_id", "updated_at"])
    return PayOutcome("failed", message=declined, setup_client_secret=setup.client_secret)


# --- Card testing: each open card form has a bounded number of failed card checks ------

CARD_ATTEMPTS_USED_UP = "Too many card attempts. Please start again."


def _closed_message(membership: Membership) -> str | None:
    if membership.card_failures >= settings.DONATION_MAX_CARD_ATTEMPTS:
        return CARD_ATTEMPTS_USED_UP
    return None


def membership_starter(membership: Membership) -> card_testing.Starter:
    """A membership's card form is opened by its signed-in member: their account counts."""
    return card_testing.Starter(
        label=f"membership {membership.public_id}",
        ip=membership.client_ip,
        email="" if membership.user_id else membership.email,
        user_id=membership.user_id,
    )


def count_membership_failure(membership: Membership, failure: card_testing.CardFailure) -> bool:
    """Count a failed card check of a (locked) membership's open card form (joining, or
    updating the card); close that form once it has used up its attempts or a source of it
    is blocked. Says whether it was closed.

    Closing cancels the form's SetupIntents at Stripe, and the unpaid subscription of a
    membership that never started (its first invoice's PaymentIntent can then be
    confirmed no more). A live membership is never ended for this: only its card form.
    """
    starter = membership_starter(membership)
    if card_testing.record_failure(failure, starter):
        membership.card_failures += 1
        membership.save(update_fields=["card_failures", "updated_at"])
    used_up = membership.card_failures >= settings.DONATION_MAX_CARD_ATTEMPTS
    blocked = card_testing.active_block(
        ip=starter.ip, email=starter.email, user_id=starter.user_id, card=failure.card
    )
    if not (used_up or blocked):
        return False
    prefix = f"membership-{membership.public_id}-cancel"
    setup_ids = {membership.stripe_setup_intent_id, failure.setup_intent_id} - {"", None}
    for setup_id in sorted(setup_ids):
        gateway.cancel_setup_intent(setup_id, idempotency_key=f"{prefix}-{setup_id}")
    if not used_up:  # blocked: no card may be tried on this form any more
        membership.card_failures = settings.DONATION_MAX_CARD_ATTEMPTS
        membership.save(update_fields=["card_failures", "updated_at"])
    if membership.status == MembershipStatus.INCOMPLETE and membership.stripe_subscription_id:
        ended = gateway.cancel_subscription(
            membership.stripe_subscription_id,
            idempotency_key=f"membership-{membership.public_id}-end-"
            f"{membership.stripe_subscription_id}",
        )
        apply_subscription(membership, ended, as_of=_stripe_now())
    return True


def membership_card_check_failed(public_id: str, failure: card_testing.CardFailure) -> bool:
    """Stripe declined a card on a membership's card form (its SetupIntent, confirmed
    directly with Stripe): counted as in `count_membership_failure`. False for a
    membership we do not have (nothing counted)."""
    try:
        uuid.UUID(str(public_id))
    except ValueError:
        return False
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update(of=("self",))
            .select_related("donor")
            .filter(public_id=public_id)
            .first()
        )
        if membership is None:
            return False
        count_membership_failure(membership, failure)
    return True


def _count_first_payment_failure(invoice: gateway.InvoiceInfo) -> None:
    """A first membership invoice declined (a card tried on its PaymentIntent, on our join
    page or directly with Stripe through the client secret handed out for 3-D Secure):
    a failed card check of that join. A renewal that fails is not a card check (the
    member's bank said no, off session): not counted.

    Events come in any order: the join is known by the invoice's billing reason, or
    (where that is missing) by a membership that never started.
    """
    if not invoice.subscription_id:
        return
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update(of=("self",))
            .select_related("donor")
            .filter(stripe_subscription_id=invoice.subscription_id, kind=MembershipKind.PAID)
            .first()
        )
        joining = invoice.billing_reason == "subscription_create" or (
            not invoice.billing_reason and membership and membership.welcomed_at is None
        )
        if membership is None or not joining:
            return
        current = gateway.retrieve_invoice(invoice.id)  # events leave out its PaymentIntent
        if not current.payment_intent_id:
            return
        intent = gateway.retrieve_payment_intent(current.payment_intent_id)
        if intent.status == "requires_payment_method" and intent.error_code:
            count_membership_failure(membership, card_testing.payment_failure(intent))


# --- Keeping in step with Stripe ------------------------------------------------------------


def _stripe_now() -> datetime:
    """Now, to Stripe's precision (whole seconds), to compare with Stripe's `created` times."""
    return timezone.now().replace(microsecond=0)


def apply_subscription(
    membership: Membership, subscription: gateway.SubscriptionInfo, *, as_of: datetime
) -> bool:
    """Bring a (locked) membership in line with a Stripe subscription seen at `as_of`.

    A snapshot older than the newest one applied is ignored, so late and
    repeated events never undo newer state. Says whether it was applied.
    """
    if membership.stripe_synced_at and as_of < membership.stripe_synced_at:
        membership.save()  # keeps what the lookup learnt (its subscription id), nothing else
        return False
    MEMBERSHIP.advance(membership, FROM_STRIPE.get(subscription.status, membership.status))
    if subscription.amount and subscription.currency and subscription.interval:
        membership.amount = subscription.amount
        membership.currency = subscription.currency
        membership.interval = subscription.interval
        membership.level = level_for(
            subscription.amount, subscription.currency, subscription.interval
        )
    membership.current_period_end = subscription.current_period_end or membership.current_period_end
    membership.cancel_at_period_end = subscription.cancel_at_period_end
    if membership.status == MembershipStatus.CANCELED and membership.ended_at is None:
        membership.ended_at = subscription.ended_at or subscription.canceled_at or timezone.now()
    membership.stripe_synced_at = as_of
    membership.save()
    announce_changes(membership)
    return True


def announce_changes(membership: Membership) -> None:
    """Welcome a new member once; tell a member once when their membership has ended."""
    from members.tasks import send_membership_email

    if membership.has_perks and membership.welcomed_at is None:
        membership.welcomed_at = timezone.now()
        membership.save(update_fields=["welcomed_at"])
        pk = membership.pk
        transaction.on_commit(lambda: send_membership_email.delay(pk, "welcome"), robust=True)
    if (
        membership.status == MembershipStatus.CANCELED
        and membership.welcomed_at is not None
        and membership.ended_notice_at is None
    ):
        membership.ended_notice_at = timezone.now()
        membership.save(update_fields=["ended_notice_at"])
        pk = membership.pk
        transaction.on_commit(lambda: send_membership_email.delay(pk, "ended"), robust=True)


def _locked_membership_for(subscription_id: str, metadata: dict | None = None) -> Membership | None:
    query = Membership.objects.select_for_update(of=("self",)).select_related("donor")
    membership = query.filter(stripe_subscription_id=subscription_id).first()
    public_id = (metadata or {}).get(META_MEMBERSHIP)
    if membership is None and public_id:
        # Our own subscription, whose id we have not saved yet (its event came first).
        membership = query.filter(public_id=public_id, kind=MembershipKind.PAID).first()
        if membership is not None and membership.stripe_subscription_id in (None, subscription_id):
            membership.stripe_subscription_id = subscription_id
            return membership
        return None
    return membership


def _membership_from_stripe(subscription: gateway.SubscriptionInfo, donor: Donor) -> Membership:
    """A locked membership for a subscription made outside our join page.

    A member who already has an open paid membership keeps it; the extra
    subscription's membership is then recorded without the account (visible
    to staff), so its money still reaches the ledger.
    """
    fields = {
        "email": donor.email,
        "donor": donor,
        "kind": MembershipKind.PAID,
        "status": MembershipStatus.INCOMPLETE,
        "amount": subscription.amount,
        "currency": subscription.currency,
        "interval": subscription.interval,
        "stripe_subscription_id": subscription.id,
    }
    for user in dict.fromkeys([donor.user, None]):
        try:
            with transaction.atomic():
                Membership.objects.create(user=user, **fields)
            break
        except IntegrityError:  # created concurrently, or the account's one open membership
            if Membership.objects.filter(stripe_subscription_id=subscription.id).exists():
                break
            logger.warning("Second open subscription %s for donor %s", subscription.id, donor.pk)
    return _locked_membership_for(subscription.id)


def sync_subscription(
    subscription: gateway.SubscriptionInfo, *, as_of: datetime
) -> Membership | None:
    """Apply a subscription from an event (or re-read from Stripe) to its membership.

    A subscription we have never seen (made in Stripe's dashboard, say) becomes
    a membership of the customer's donor, when we know the customer.
    """
    with transaction.atomic():
        membership = _locked_membership_for(subscription.id, subscription.metadata)
        if membership is None:
            donor = Donor.objects.filter(stripe_customer_id=subscription.customer_id).first()
            if donor is None:
                logger.warning("Subscription %s of an unknown customer", subscription.id)
                return None
            membership = _membership_from_stripe(subscription, donor)
        apply_subscription(membership, subscription, as_of=as_of)
        return membership


def _membership_for_invoice(invoice: gateway.InvoiceInfo) -> Membership | None:
    """The invoice's membership, locked; learnt from Stripe if its events are still to come."""
    if not invoice.subscription_id:
        return None
    membership = _locked_membership_for(invoice.subscription_id, invoice.subscription_metadata)
    if membership is None:
        sync_subscription(
            gateway.retrieve_subscription(invoice.subscription_id), as_of=_stripe_now()
        )
        membership = _locked_membership_for(invoice.subscription_id)
    return membership


@transaction.atomic
def record_paid_invoice(invoice: gateway.InvoiceInfo, *, as_of: datetime) -> Payment | None:
    """A paid membership invoice: one ledger row and receipt; the membership is active.

    The ledger row does not depend on event order; the status and period move
    only if this invoice is not older than the state we hold.
    """
    membership = _membership_for_invoice(invoice)
    if membership is None:
        return None
    payment = payments_services.record_invoice_payment(
        invoice,
        donor=membership.donor,
        donor_name=membership.user.display_name if membership.user else membership.donor.name,
        attribution=membership.attribution(),
    )
    if membership.stripe_synced_at is None or as_of >= membership.stripe_synced_at:
        if MEMBERSHIP.can_move(membership.status, MembershipStatus.ACTIVE):
            MEMBERSHIP.advance(membership, MembershipStatus.ACTIVE)
        if invoice.period_end and (
            membership.current_period_end is None
            or invoice.period_end > membership.current_period_end
        ):
            membership.current_period_end = invoice.period_end
        membership.stripe_synced_at = as_of
        membership.save()
        announce_changes(membership)
    return payment


def record_invoice_by_id(invoice_id: str) -> Payment | None:
    """Record a paid invoice read back from Stripe (its own events are late or lost)."""
    invoice = gateway.retrieve_invoice(invoice_id)
    if invoice.status != "paid":
        return None
    return record_paid_invoice(invoice, as_of=invoice.paid_at or invoice.created)


def record_failed_invoice(invoice: gateway.InvoiceInfo, *, as_of: datetime) -> None:
    """A renewal failed: past due (perks stay while Stripe retries); the member is told once.

    A first payment that fails leaves the membership incomplete (the join page shows why).
    Stripe also reports a renewal that waits for 3-D Secure as failed: that member is
    asked to confirm the payment instead (see `record_action_required_invoice`).
    A first payment declined counts as a failed card check of that join.
    """
    _record_unpaid_invoice(invoice, as_of=as_of)
    _count_first_payment_failure(invoice)


def record_action_required_invoice(invoice: gateway.InvoiceInfo, *, as_of: datetime) -> None:
    """A renewal the bank wants the member to authenticate (3-D Secure): past due, perks
    stay, and the member is asked once to confirm the payment, never told it failed.

    Stripe sends `invoice.payment_failed` for the same attempt, in either order;
    whichever comes first sends the one email, chosen from the invoice as Stripe has it.
    """
    _record_unpaid_invoice(invoice, as_of=as_of)


def _unpaid_invoice_email(invoice: gateway.InvoiceInfo) -> str | None:
    """Which email an unpaid renewal calls for, from Stripe's current state of the invoice:
    "confirm_payment" while its PaymentIntent waits for 3-D Secure, "payment_failed" while
    it is open otherwise, none once it is paid or void (the event came late)."""
    if not invoice.subscription_id:
        return None
    current = gateway.retrieve_invoice(invoice.id)
    if current.status != "open":
        return None
    if current.payment_intent_id:
        intent = gateway.retrieve_payment_intent(current.payment_intent_id)
        if intent.status == "requires_action":
            return "confirm_payment"
    return "payment_failed"


def _record_unpaid_invoice(invoice: gateway.InvoiceInfo, *, as_of: datetime) -> None:
    from members.tasks import send_membership_email

    email = _unpaid_invoice_email(invoice)  # read from Stripe before taking the lock
    with transaction.atomic():
        membership = _membership_for_invoice(invoice)
        if membership is None:
            return
        # A late event for an invoice Stripe has since been paid (or voided) moves nothing,
        # even when it carries the same second as the newest update we have.
        still_open = email is not None
        is_newest = membership.stripe_synced_at is None or as_of >= membership.stripe_synced_at
        if still_open and is_newest and MEMBERSHIP.advance(membership, MembershipStatus.PAST_DUE):
            membership.stripe_synced_at = as_of
        told = membership.last_failed_invoice_id == invoice.id  # one email per invoice
        if (
            email
            and not told
            and membership.status
            in (
                MembershipStatus.PAST_DUE,
                MembershipStatus.UNPAID,
            )
        ):
            membership.last_failed_invoice_id = invoice.id
            pk = membership.pk
            transaction.on_commit(lambda: send_membership_email.delay(pk, email), robust=True)
        membership.save()


# --- Self-service ---------------------------------------------------------------------


def _locked(membership: Membership) -> Membership:
    return (
        Membership.objects.select_for_update(of=("self",))
        .select_related("donor")
        .get(pk=membership.pk)
    )


def _change_key(membership: Membership, action: str) -> str:
    """Same key for a retried request; a new one once the membership has changed."""
    return f"membership-{membership.public_id}-{action}-{membership.updated_at.timestamp()}"


def _require_paid_and_live(membership: Membership) -> None:
    if membership.kind != MembershipKind.PAID or not membership.stripe_subscription_id:
        raise MembershipRefused("This membership is not billed by card.")
    if membership.status not in OPEN_STATUSES or membership.status == MembershipStatus.INCOMPLETE:
        raise MembershipRefused("This membership has ended.")


@transaction.atomic
def change_membership(membership: Membership, *, amount: int, interval: str) -> Membership:
    """New amount and/or interval (same currency), without proration.

    A new amount applies from the next charge. A new interval starts a new
    period today, as Stripe does, so the first charge at the new interval is
    taken now.
    """
    membership = _locked(membership)
    _require_paid_and_live(membership)
    try:
        payments_services.check_gift_amount(amount, membership.currency)
    except payments_services.DonationRefused as exc:
        raise MembershipRefused(exc.message, field="amount") from exc
    if interval not in Interval.values:
        raise MembershipRefused("Choose monthly or yearly.", field="interval")
    if (amount, interval) == (membership.amount, membership.interval):
        return membership
    plan_id = gateway.ensure_plan(
        amount=amount,
        currency=membership.currency,
        interval=interval,
        product_name=f"{settings.ORGANIZATION_NAME} membership",
    )
    current = gateway.retrieve_subscription(membership.stripe_subscription_id)
    subscription = gateway.change_subscription_plan(
        subscription_id=current.id,
        item_id=current.item_id,
        plan_id=plan_id,
        idempotency_key=_change_key(membership, f"plan-{plan_id}"),
    )
    apply_subscription(membership, subscription, as_of=_stripe_now())
    return membership


@transaction.atomic
def cancel_membership(membership: Membership, *, reason: str = "") -> Membership:
    """Stop renewing: perks last until the period paid for ends."""
    membership = _locked(membership)
    _require_paid_and_live(membership)
    subscription = gateway.set_cancel_at_period_end(
        membership.stripe_subscription_id,
        True,
        idempotency_key=_change_key(membership, "cancel"),
    )
    membership.cancel_reason = reason.strip()[:500]
    apply_subscription(membership, subscription, as_of=_stripe_now())
    return membership


@transaction.atomic
def resume_membership(membership: Membership) -> Membership:
    """Undo a cancellation before the period ends."""
    membership = _locked(membership)
    _require_paid_and_live(membership)
    subscription = gateway.set_cancel_at_period_end(
        membership.stripe_subscription_id,
        False,
        idempotency_key=_change_key(membership, "resume"),
    )
    membership.cancel_reason = ""
    apply_subscription(membership, subscription, as_of=_stripe_now())
    return membership


@transaction.atomic
def end_membership_now(membership: Membership) -> Membership:
    """Staff: end it today (paid: the Stripe subscription is canceled; comp/gift: perks stop)."""
    membership = _locked(membership)
    if membership.kind == MembershipKind.PAID and membership.stripe_subscription_id:
        apply_subscription(
            membership,
            gateway.cancel_subscription(
                membership.stripe_subscription_id,
                idempotency_key=f"membership-{membership.public_id}-end-"
                f"{membership.stripe_subscription_id}",
            ),
            as_of=_stripe_now(),
        )
    else:
        MEMBERSHIP.advance(membership, MembershipStatus.CANCELED)
        membership.ended_at = membership.ended_at or timezone.now()
        membership.save()
        announce_changes(membership)
    return membership


@transaction.atomic
def start_card_update(membership: Membership, *, client_ip: str | None = None) -> str:
    """A SetupIntent for a new card; returns its client secret for Stripe.js.

    Each card form opened has its own DONATION_MAX_CARD_ATTEMPTS failed card checks,
    counted against `client_ip` and the account too (payments/card_testing.py).
    """
    membership = _locked(membership)
    _require_paid_and_live(membership)
    setup = gateway.create_setup_intent(
        customer_id=payments_services.ensure_stripe_customer(membership.donor),
        metadata={META_MEMBERSHIP: str(membership.public_id)},
        usage="off_session",  # renewals charge it while the member is away
        idempotency_key=_setup_key(membership),
    )
    membership.stripe_setup_intent_id = setup.id
    membership.card_failures = 0
    membership.client_ip = card_testing.valid_ip(client_ip)
    membership.save(
        update_fields=["stripe_setup_intent_id", "card_failures", "client_ip", "updated_at"]
    )
    return setup.client_secret


@transaction.atomic
def finish_card_update(membership: Membership) -> PayOutcome:
    """Renewals go to the new card; a past-due invoice is retried on it at once.

    The member is on the page, so the invoice is paid on session: a bank that
    wants 3-D Secure answers `requires_action` (for Stripe.js
    `confirmCardPayment`), not a decline. Safe to call again after that: a paid
    invoice is not paid twice, and each write's idempotency key names the card's
    SetupIntent.
    """
    membership = _locked(membership)
    _require_paid_and_live(membership)
    if membership.card_failures >= settings.DONATION_MAX_CARD_ATTEMPTS:
        raise MembershipRefused(CARD_ATTEMPTS_USED_UP)
    setup = gateway.retrieve_setup_intent(membership.stripe_setup_intent_id)
    if setup.status != "succeeded" or not setup.payment_method_id:
        raise MembershipRefused("Please enter your card details.", field="card")
    if card_testing.active_block(card=setup.card_fingerprint):
        raise MembershipRefused(card_testing.CARD_BLOCKED, field="card")
    gateway.set_default_payment_method(
        customer_id=membership.donor.stripe_customer_id,
        payment_method_id=setup.payment_method_id,
        idempotency_key=f"membership-{membership.public_id}-card-{setup.id}",
    )
    if membership.status not in (MembershipStatus.PAST_DUE, MembershipStatus.UNPAID):
        return PayOutcome("succeeded")
    subscription = gateway.retrieve_subscription(membership.stripe_subscription_id)
    invoice = gateway.retrieve_invoice(subscription.latest_invoice_id)
    if invoice.status == "open":
        _pay_on_session(invoice, setup)
        invoice = gateway.retrieve_invoice(invoice.id)
    apply_subscription(
        membership,
        gateway.retrieve_subscription(membership.stripe_subscription_id),
        as_of=_stripe_now(),
    )
    outcome = _invoice_outcome(invoice)
    if outcome.status == "failed" and invoice.payment_intent_id:  # the new card was declined
        intent = gateway.retrieve_payment_intent(invoice.payment_intent_id)
        failure = card_testing.payment_failure(intent, card=setup.card_fingerprint)
        if count_membership_failure(membership, failure):
            return PayOutcome("failed", message=f"{outcome.message} {card_testing.START_AGAIN}")
    return outcome


@transaction.atomic
def confirm_renewal_payment(membership: Membership) -> PayOutcome:
    """Where the renewal that waits for the member's 3-D Secure stands (the confirm page).

    `requires_action` carries the PaymentIntent's client secret for Stripe.js
    `confirmCardPayment`; asked again afterwards, `succeeded` once Stripe has the
    payment (the membership is brought in line with Stripe at once; the ledger row
    comes with the invoice's event), `failed` if the bank did not confirm it.
    """
    membership = _locked(membership)
    _require_paid_and_live(membership)
    subscription = gateway.retrieve_subscription(membership.stripe_subscription_id)
    if not subscription.latest_invoice_id:
        return PayOutcome("succeeded")
    outcome = _invoice_outcome(
        gateway.retrieve_invoice(subscription.latest_invoice_id),
        failed="Your bank did not confirm the payment. "
        "You can try again, or update your card to pay with another one.",
    )
    apply_subscription(membership, subscription, as_of=_stripe_now())
    return outcome


def _invoice_outcome(invoice: gateway.InvoiceInfo, *, failed: str | None = None) -> PayOutcome:
    """What the member paying an invoice on the page does next, from its PaymentIntent.

    `failed` replaces the bank's reason for a refusal (by default the decline's message).
    """
    if invoice.status != "open" or not invoice.payment_intent_id:
        return PayOutcome("succeeded")  # paid (or no longer due): nothing left to do
    intent = gateway.retrieve_payment_intent(invoice.payment_intent_id)
    if intent.status == "requires_action":
        return PayOutcome("requires_action", client_secret=intent.client_secret)
    if intent.status in ("processing", "succeeded"):
        return PayOutcome("succeeded")
    return PayOutcome("failed", message=failed or intent.error_message or "Your card was declined.")


# --- Complimentary memberships ---------------------------------------------------------


def link_memberships_to_user(email: str, user: User) -> None:
    """Comp and gift memberships granted to an address join its account once verified."""
    Membership.objects.filter(email=email.strip().lower(), user__isnull=True).update(user=user)


@transaction.atomic
def grant_comp_membership(
    *, email: str, ends_at: datetime | None = None, note: str = "", granted_by: User | None = None
) -> Membership:
    """Perks without payment (staff, partners, hardship), until `ends_at` or for good."""
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    membership = Membership.objects.create(
        user=user,
        email=email,
        kind=MembershipKind.COMP,
        status=MembershipStatus.ACTIVE,
        ends_at=ends_at,
        note=note,
        granted_by=granted_by,
    )
    announce_changes(membership)
    return membership


def end_expired_memberships() -> int:
    """Comp and gift memberships whose end date has passed are ended (daily beat task)."""
    ended = 0
    expired = Membership.objects.filter(
        kind__in=[MembershipKind.COMP, MembershipKind.GIFT],
        status=MembershipStatus.ACTIVE,
        ends_at__lte=timezone.now(),
    ).values_list("pk", flat=True)
    for pk in expired:
        with transaction.atomic():
            membership = _locked(Membership(pk=pk))
            if MEMBERSHIP.advance(membership, MembershipStatus.CANCELED):
                membership.ended_at = membership.ends_at
                membership.save()
                announce_changes(membership)
                ended += 1
    return ended
