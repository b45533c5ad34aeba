"""What members do to their own membership: change it, cancel or resume it, update the card."""

import contextlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.errors import Refused
from members.models import OPEN_STATUSES, Membership
from members.services import change_prices
from members.services.card_checks import (
    confirmed_card,
    count_membership_failure,
    remember_card,
)
from members.services.checkout import pay_on_session
from members.services.stripe_sync import (
    META_MEMBERSHIP,
    announce_changes,
    apply_subscription,
    lock_membership,
    stripe_now,
)
from members.states import (
    MEMBERSHIP,
    CancelReason,
    Interval,
    MembershipKind,
    MembershipStatus,
)
from payments import card_testing
from payments import stripe_gateway as gateway
from payments.services import donations, donors
from payments.services.donations import PayOutcome


def locked_membership(membership: Membership) -> Membership:
    return lock_membership(membership.pk)


def _read(membership: Membership) -> Membership:
    """The membership as stored now, unlocked: what the checks and Stripe's keys read."""
    return Membership.objects.select_related("donor").get(pk=membership.pk)


def _apply(
    membership: Membership, subscription: gateway.SubscriptionInfo, *, seen_at, **changes
) -> Membership:
    """Lock the membership (only now, Stripe having answered) and bring it in line with
    the subscription Stripe returned at `seen_at` (forward only, never older than the
    state held), with `changes` of our own."""
    with transaction.atomic():
        current = lock_membership(membership.pk)
        for name, value in changes.items():
            setattr(current, name, value)
        apply_subscription(current, subscription, as_of=seen_at)
    return current


def _change_key(membership: Membership, action: str) -> str:
    """Same key for a retried request; a new one once the membership has changed."""
    return f"membership-{membership.public_id}-{action}-{membership.updated_at.timestamp()}"


def not_done_message(exc: gateway.GatewayError) -> str:
    """What a member is told when Stripe failed their change, cancellation or resumption:
    unchanged only when Stripe did nothing; else that nobody knows yet."""
    if isinstance(exc, gateway.OutcomeUnknown):
        return (
            "Our card processor did not answer in time, so we cannot tell yet whether your "
            "membership changed. Please look at your account page in a minute; sending the "
            "same again is safe: it is made, and charged, only once."
        )
    return f"{exc.user_message} Your membership is unchanged."


def _require_paid_and_live(membership: Membership) -> None:
    if membership.kind != MembershipKind.PAID or not membership.stripe_subscription_id:
        raise Refused("This membership is not billed by card.")
    if membership.status not in OPEN_STATUSES or membership.status == MembershipStatus.INCOMPLETE:
        raise Refused("This membership has ended.")


# Each change below is checked on the membership as read, sent to Stripe with no lock
# held (under a key derived from the membership's state, so a double click is one
# change), and then applied under the membership's lock (payments/services/__init__.py).


def _checked_change(membership: Membership, amount: int, interval: str) -> Membership:
    membership = _read(membership)
    _require_paid_and_live(membership)
    donations.check_amount(amount, membership.currency)
    if interval not in Interval.values:
        raise Refused("Choose monthly or yearly.", field="interval")
    return membership


def _quote(membership: Membership, subscription, *, amount: int, interval: str, at):
    return change_prices.quote(
        membership,
        subscription,
        amount=amount,
        interval=interval,
        proration=settings.MEMBERSHIP_PRORATION,
        at=at,
    )


def preview_change(
    membership: Membership, *, amount: int, interval: str
) -> change_prices.ChangeQuote:
    """What changing to `amount` every `interval` would charge, and when (nothing changes).

    Stripe's preview when it has one; else worked out here (an estimate), also when
    Stripe cannot be read at all.
    """
    membership = _checked_change(membership, amount, interval)
    subscription = None
    if (amount, interval) != (membership.amount, membership.interval):
        # Stripe unreachable: priced from the membership as held
        with contextlib.suppress(gateway.GatewayError):
            subscription = gateway.retrieve_subscription(membership.stripe_subscription_id)
    return _quote(membership, subscription, amount=amount, interval=interval, at=stripe_now())


# How long a price shown to the member is still the one charged.
QUOTE_HOLDS = timedelta(hours=1)


def change_membership(
    membership: Membership, *, amount: int, interval: str, quoted_at: int | None = None
) -> tuple[Membership, str]:
    """New amount and/or interval (same currency); returns it with what was charged or
    will be, in a sentence for the member.

    With MEMBERSHIP_PRORATION "create_prorations" the unused part of the period is
    credited: a new amount settles the difference with the next payment; a new
    interval starts a new period today (as Stripe does), charged at once less the
    credit. With "none" there is no credit. `quoted_at` (unix seconds) is when the
    member was shown the price: within QUOTE_HOLDS, the credit is counted from then,
    so the charge is the one shown.
    """
    membership = _checked_change(membership, amount, interval)
    if (amount, interval) == (membership.amount, membership.interval):
        return membership, "Nothing has changed."
    plan_id = gateway.ensure_plan(
        amount=amount,
        currency=membership.currency,
        interval=interval,
        product_name=f"{settings.ORGANIZATION_NAME} membership",
    )
    current = gateway.retrieve_subscription(membership.stripe_subscription_id)
    now, shown = stripe_now(), _shown_at(quoted_at)
    # A price shown in this period, lately, is the one charged (its proration date is sent).
    recent = shown is not None and now - QUOTE_HOLDS <= shown <= now
    this_period = current.current_period_start is None or (
        shown is not None and shown >= current.current_period_start
    )
    at = shown if recent and this_period else now
    quote = _quote(membership, current, amount=amount, interval=interval, at=at)
    if current.plan_id == plan_id:
        # Stripe has it already: an earlier try whose answer was lost (its new period
        # then starts after the price shown, so a new update would be a new request and
        # charge again). Only brought in line here.
        subscription = current
    else:
        subscription = gateway.change_subscription_plan(
            subscription_id=current.id,
            item_id=current.item_id,
            plan_id=plan_id,
            proration_behavior=settings.MEMBERSHIP_PRORATION,
            proration_date=quote.proration_date,
            idempotency_key=_change_key(membership, f"plan-{plan_id}"),
        )
    changed = _apply(membership, subscription, seen_at=stripe_now())
    invoice = None
    if quote.switch and subscription.latest_invoice_id:  # the new period's, charged today
        try:
            invoice = gateway.retrieve_invoice(subscription.latest_invoice_id)
        except gateway.GatewayError:
            invoice = None  # the change is made: say it without the amount
    return changed, change_prices.done_message(quote, changed, invoice)


def _shown_at(seconds: int | None) -> datetime | None:
    if seconds is None:
        return None
    try:
        return gateway.timestamp(seconds)
    except (OverflowError, OSError, ValueError):
        return None


def cancel_membership(
    membership: Membership, *, reason: str = "", category: str = ""
) -> Membership:
    """Stop renewing: perks last until the period paid for ends. `category` is one of
    members.states.CancelReason (the dashboard groups by it); `reason` their own words."""
    membership = _read(membership)
    _require_paid_and_live(membership)
    subscription = gateway.set_cancel_at_period_end(
        membership.stripe_subscription_id,
        True,
        idempotency_key=_change_key(membership, "cancel"),
    )
    cancelled = _apply(
        membership,
        subscription,
        seen_at=stripe_now(),
        cancel_reason=reason.strip()[:500],
        cancel_category=category,
    )
    # The "will not renew" email: enqueued by every cancellation, sent once
    # (members.emails.send_cancel_notice claims it).
    from members.tasks import send_cancel_notice

    if cancelled.cancel_at_period_end:
        pk = cancelled.pk
        transaction.on_commit(lambda: send_cancel_notice.delay(pk), robust=True)
    return cancelled


def resume_membership(membership: Membership) -> Membership:
    """Undo a cancellation before the period ends."""
    membership = _read(membership)
    _require_paid_and_live(membership)
    subscription = gateway.set_cancel_at_period_end(
        membership.stripe_subscription_id,
        False,
        idempotency_key=_change_key(membership, "resume"),
    )
    return _apply(
        membership,
        subscription,
        seen_at=stripe_now(),
        cancel_reason="",
        cancel_category="",
        cancel_notice_at=None,  # a later cancellation is told again
    )


def end_membership_now(membership: Membership) -> Membership:
    """Staff: end it today (paid: the Stripe subscription is canceled; comp/gift: perks stop)."""
    membership = _read(membership)
    if membership.kind == MembershipKind.PAID and membership.stripe_subscription_id:
        ended = gateway.cancel_subscription(
            membership.stripe_subscription_id,
            idempotency_key=f"membership-{membership.public_id}-end-"
            f"{membership.stripe_subscription_id}",
        )
        return _apply(
            membership,
            ended,
            seen_at=stripe_now(),
            cancel_category=membership.cancel_category or CancelReason.STAFF,
        )
    with transaction.atomic():
        membership = lock_membership(membership.pk)
        MEMBERSHIP.advance(membership, MembershipStatus.CANCELED)
        membership.cancel_category = membership.cancel_category or CancelReason.STAFF
        membership.ended_at = membership.ended_at or timezone.now()
        membership.save()
        announce_changes(membership)
    return membership


def _setup_key(membership: Membership) -> str:
    """The key of the card form that follows the membership's current one: each has one
    successor, however many requests ask for it at once."""
    previous = membership.stripe_setup_intent_id or "first"
    return f"membership-{membership.public_id}-setup-{previous}"


def start_card_update(membership: Membership, *, client_ip: str | None = None) -> str:
    """A SetupIntent for a new card; returns its client secret for Stripe.js.

    Each card form opened has its own DONATION_MAX_CARD_ATTEMPTS failed card checks,
    counted against `client_ip` and the account too (payments/card_testing.py).
    """
    membership = _read(membership)
    _require_paid_and_live(membership)
    setup = gateway.create_setup_intent(
        customer_id=donors.ensure_stripe_customer(membership.donor),
        metadata={META_MEMBERSHIP: str(membership.public_id)},
        usage="off_session",  # renewals charge it while the member is away
        idempotency_key=_setup_key(membership),
    )
    with transaction.atomic():
        current = lock_membership(membership.pk)
        current.stripe_setup_intent_id = setup.id
        current.card_failures = 0
        current.client_ip = card_testing.valid_ip(client_ip)
        current.save(
            update_fields=["stripe_setup_intent_id", "card_failures", "client_ip", "updated_at"]
        )
    return setup.client_secret


def finish_card_update(membership: Membership) -> PayOutcome:
    """Renewals go to the new card; a past-due invoice is retried on it at once.

    The member is on the page, so the invoice is paid on session: a bank that
    wants 3-D Secure answers `requires_action` (for Stripe.js
    `confirmCardPayment`), not a decline. Safe to call again after that: a paid
    invoice is not paid twice, and each write's idempotency key names the card's
    SetupIntent.
    """
    membership = _read(membership)
    _require_paid_and_live(membership)
    setup = confirmed_card(membership)
    card_key = f"membership-{membership.public_id}-card-{setup.id}"
    gateway.set_default_payment_method(
        customer_id=membership.donor.stripe_customer_id,
        payment_method_id=setup.payment_method_id,
        idempotency_key=card_key,
    )
    gateway.set_subscription_payment_method(  # its invoices go to its own card first
        subscription_id=membership.stripe_subscription_id,
        payment_method_id=setup.payment_method_id,
        idempotency_key=f"{card_key}-subscription",
    )
    remember_card(membership, setup.payment_method_id, setup.card)
    if membership.status not in (MembershipStatus.PAST_DUE, MembershipStatus.UNPAID):
        return PayOutcome("succeeded")
    subscription = gateway.retrieve_subscription(membership.stripe_subscription_id)
    invoice = gateway.retrieve_invoice(subscription.latest_invoice_id)
    if invoice.status == "open":
        pay_on_session(invoice, setup.payment_method_id)
        invoice = gateway.retrieve_invoice(invoice.id)
    subscription = gateway.retrieve_subscription(membership.stripe_subscription_id)
    seen_at = stripe_now()
    outcome = _invoice_outcome(invoice)
    membership = _apply(membership, subscription, seen_at=seen_at)
    if outcome.status == "failed" and invoice.payment_intent_id:  # the new card was declined
        intent = gateway.retrieve_payment_intent(invoice.payment_intent_id)
        failure = card_testing.payment_failure(intent, card=setup.card_fingerprint)
        if count_membership_failure(membership, failure):
            return PayOutcome("failed", message=f"{outcome.message} {card_testing.START_AGAIN}")
    return outcome


def confirm_renewal_payment(membership: Membership) -> PayOutcome:
    """Where the renewal that waits for the member's 3-D Secure stands (the confirm page).

    `requires_action` carries the PaymentIntent's client secret for Stripe.js
    `confirmCardPayment`; asked again afterwards, `succeeded` once Stripe has the
    payment (the membership is brought in line with Stripe at once; the ledger row
    comes with the invoice's event), `failed` if the bank did not confirm it.
    """
    membership = _read(membership)
    _require_paid_and_live(membership)
    subscription = gateway.retrieve_subscription(membership.stripe_subscription_id)
    seen_at = stripe_now()
    if not subscription.latest_invoice_id:
        return PayOutcome("succeeded")
    outcome = _invoice_outcome(
        gateway.retrieve_invoice(subscription.latest_invoice_id),
        failed="Your bank did not confirm the payment. "
        "You can try again, or update your card to pay with another one.",
    )
    _apply(membership, subscription, seen_at=seen_at)
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
    return PayOutcome(
        "failed", message=failed or intent.error_message or gateway.card_message("card_declined")
    )
