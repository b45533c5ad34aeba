"""Keeping memberships in step with Stripe: subscription snapshots and invoices, paid or not.

A paid membership is a Stripe Subscription (made by checkout). Stripe's events keep
it in step: subscription snapshots are applied when they are no older than what
we have (`stripe_synced_at`), and each paid invoice becomes one ledger row and
one receipt.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists
from django.utils import timezone

from members.models import Membership
from members.selectors import level_for
from members.services import member_webhooks, newsletters
from members.states import (
    FROM_STRIPE,
    MEMBERSHIP,
    MemberEvent,
    MembershipKind,
    MembershipOrigin,
    MembershipStatus,
)
from payments import stripe_gateway as gateway
from payments.models import Donor, Payment
from payments.services import ledger

# The metadata key that names our membership on Stripe's subscriptions and SetupIntents.
META_MEMBERSHIP = "patronage_membership"

logger = logging.getLogger(__name__)


def stripe_now() -> datetime:
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
    if subscription.default_payment_method_id not in (None, membership.card_payment_method_id):
        _follow_card(membership)
    return True


def _follow_card(membership: Membership) -> None:
    """Another card is on the subscription than the one remembered: read which, after
    commit (a Stripe call never runs inside a transaction)."""
    from members.tasks import follow_membership_card

    pk = membership.pk
    transaction.on_commit(lambda: follow_membership_card.delay(pk))


def announce_changes(membership: Membership) -> None:
    """Welcome a new member once; tell a member once when their membership has ended.

    Every path that changes a membership (paid, comp, gift) calls it after saving, in its
    transaction. It also tells the newsroom's webhooks what moved (started, level changed,
    lapsed, reactivated, ended: member_webhooks.announce), and a member whose perks have
    ended leaves the members-only newsletters.
    """
    from members.signals import membership_started  # (it imports these services)
    from members.tasks import send_membership_email

    if membership.has_perks and membership.welcomed_at is None:
        membership.welcomed_at = timezone.now()
        membership.save(update_fields=["welcomed_at"])
        pk = membership.pk
        transaction.on_commit(lambda: send_membership_email.delay(pk, "welcome"), robust=True)
        membership_started.send(sender=Membership, membership_id=pk)
    if (
        membership.status == MembershipStatus.CANCELED
        and membership.welcomed_at is not None
        and membership.ended_notice_at is None
    ):
        membership.ended_notice_at = timezone.now()
        membership.save(update_fields=["ended_notice_at"])
        pk = membership.pk
        transaction.on_commit(lambda: send_membership_email.delay(pk, "ended"), robust=True)
    events = member_webhooks.announce(membership)
    if MemberEvent.LAPSED in events or MemberEvent.ENDED in events:
        newsletters.drop_members_only(membership.user_id)


def lock_membership(pk: int) -> Membership:
    """The membership, locked until the transaction ends: only for the state change, once
    Stripe has been asked (payments/services/__init__.py has the lock order)."""
    return Membership.objects.select_for_update(of=("self",)).select_related("donor").get(pk=pk)


def _membership_for(
    subscription_id: str,
    metadata: dict | None = None,
    *,
    lock: bool = True,
    invoice_id: str | None = None,
) -> Membership | None:
    """The subscription's membership (locked unless told), its donor and account with it;
    with `invoice_id`, annotated `invoice_recorded`: whether that invoice is on the ledger."""
    query = Membership.objects.select_related("donor", "user")
    if lock:
        query = query.select_for_update(of=("self",))
    if invoice_id:
        query = query.annotate(
            invoice_recorded=Exists(Payment.objects.filter(stripe_invoice_id=invoice_id))
        )
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


def _locked_membership_for(subscription_id: str, metadata: dict | None = None) -> Membership | None:
    return _membership_for(subscription_id, metadata)


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
        "origin": MembershipOrigin.STRIPE,
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


def _learn_membership(invoice: gateway.InvoiceInfo) -> Membership | None:
    """The invoice's membership (not locked; annotated `invoice_recorded`), learnt from
    Stripe (its subscription, read with no lock held) when the subscription's own events
    are still to come."""
    if not invoice.subscription_id:
        return None
    known = _membership_for(
        invoice.subscription_id, invoice.subscription_metadata, lock=False, invoice_id=invoice.id
    )
    if known is not None:
        return known
    subscription = gateway.retrieve_subscription(invoice.subscription_id)
    if sync_subscription(subscription, as_of=stripe_now()) is None:
        return None
    return _membership_for(
        invoice.subscription_id, invoice.subscription_metadata, lock=False, invoice_id=invoice.id
    )


def record_paid_invoice(invoice: gateway.InvoiceInfo, *, as_of: datetime) -> Payment | None:
    """A paid membership invoice: one ledger row and receipt; the membership is active.

    The ledger row does not depend on event order; the status and period move
    only if this invoice is not older than the state we hold. What Stripe says
    (the subscription of an invoice not known yet, the charge and its fee) is read
    first; the membership is then locked to record it.
    """
    known = _learn_membership(invoice)
    if known is None:
        return None
    paid = None if known.invoice_recorded else ledger.read_invoice_payment(invoice)
    with transaction.atomic():
        membership = _locked_membership_for(invoice.subscription_id, invoice.subscription_metadata)
        if membership is None:
            return None
        # (whether the invoice is on the ledger is read after the lock, by a statement of
        # its own: a locking statement's subqueries see the snapshot from before its wait)
        payment = ledger.record_invoice_payment(
            paid,
            invoice_id=invoice.id,
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
            # Only what a paid invoice moves (and the subscription id a lookup by our
            # metadata may have learnt): never the whole row.
            membership.save(
                update_fields=[
                    "status",
                    "current_period_end",
                    "stripe_synced_at",
                    "stripe_subscription_id",
                    "updated_at",
                ]
            )
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
    (A first payment declined also counts as a failed card check of that join:
    `card_checks.count_first_payment_failure`.)
    """
    _record_unpaid_invoice(invoice, as_of=as_of)


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
    if not _learn_membership(invoice):
        return
    with transaction.atomic():
        membership = _locked_membership_for(invoice.subscription_id, invoice.subscription_metadata)
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
