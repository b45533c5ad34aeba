"""One function per Stripe event type, dispatched from HANDLERS by `process_event`.

Handlers are idempotent and do not trust event order: they read the object in
the event, re-read from Stripe what they need and do not have yet, and move
statuses only forward (see states.py). Unknown types are stored and ignored.
"""

import logging
import traceback

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from members import gifts
from members import services as members
from payments import card_testing, services
from payments import stripe_gateway as gateway
from payments.models import StripeEvent
from payments.states import EVENT, EventStatus, PaymentKind

logger = logging.getLogger(__name__)


class EventFailed(Exception):
    """A handler raised; the failure is recorded on the event and the task retries."""


def payment_intent_succeeded(event: StripeEvent) -> None:
    intent = gateway.intent_from_object(event.data_object)
    payment = services.record_intent_payment(intent)
    if payment is not None and payment.kind == PaymentKind.GIFT:
        gifts.gift_paid(intent.metadata[services.META_DONATION])


def payment_intent_payment_failed(event: StripeEvent) -> None:
    """A declined payment: the gift shows it, and it counts as a failed card check (also
    when the card was tried on the PaymentIntent's client secret, directly at Stripe)."""
    intent = gateway.intent_from_object(event.data_object)
    services.mark_intent_failed(intent)
    if intent.metadata.get(services.META_KIND) == PaymentKind.GIFT:
        gifts.gift_payment_failed(intent.metadata[services.META_DONATION])
    if intent.metadata.get(services.META_DONATION):
        services.donation_card_check_failed(
            intent.metadata[services.META_DONATION], card_testing.payment_failure(intent)
        )


def setup_intent_setup_failed(event: StripeEvent) -> None:
    """A card declined while being set up: Stripe.js confirms SetupIntents directly with
    Stripe, so this event is how we learn of it. Counted against the gift or membership
    its metadata names (see payments/card_testing.py)."""
    setup = gateway.setup_intent_from_object(event.data_object)
    failure = card_testing.setup_failure(setup, event_id=event.stripe_id)
    gift = setup.metadata.get(services.META_DONATION)
    membership = setup.metadata.get(members.META_MEMBERSHIP)
    if gift and services.donation_card_check_failed(gift, failure):
        return
    if membership and members.membership_card_check_failed(membership, failure):
        return
    raise services.NotOurs(f"SetupIntent {setup.id} is not for a gift or membership of ours.")


def charge_updated(event: StripeEvent) -> None:
    """Stripe settles a charge's fee after the payment succeeds (asynchronous capture)."""
    services.record_charge_fee(gateway.charge_from_object(event.data_object))


def _payment_for(charge_id: str | None, payment_intent_id: str | None):
    """The ledger row an event names, recorded first if its own events are late."""
    return services.payment_for_charge(
        charge_id, payment_intent_id, record_invoice=members.record_invoice_by_id
    )


def charge_refunded(event: StripeEvent) -> None:
    charge = gateway.charge_from_object(event.data_object)
    services.sync_refunds_for_charge(_payment_for(charge.id, charge.payment_intent_id))


def refund_changed(event: StripeEvent) -> None:
    refund = gateway.refund_from_object(event.data_object)
    services.upsert_refund(_payment_for(refund.charge_id, refund.payment_intent_id), refund)


def dispute_changed(event: StripeEvent) -> None:
    dispute = gateway.dispute_from_object(event.data_object)
    payment = _payment_for(dispute.charge_id, dispute.payment_intent_id)
    services.upsert_dispute(payment, dispute, as_of=event.stripe_created)


def subscription_changed(event: StripeEvent) -> None:
    members.sync_subscription(
        gateway.subscription_from_object(event.data_object), as_of=event.stripe_created
    )


def invoice_paid(event: StripeEvent) -> None:
    invoice = gateway.invoice_from_object(event.data_object)
    if invoice.status == "paid":
        members.record_paid_invoice(invoice, as_of=event.stripe_created)


def invoice_payment_failed(event: StripeEvent) -> None:
    members.record_failed_invoice(
        gateway.invoice_from_object(event.data_object), as_of=event.stripe_created
    )


def invoice_payment_action_required(event: StripeEvent) -> None:
    """A renewal waits for the member's 3-D Secure (Strong Customer Authentication)."""
    members.record_action_required_invoice(
        gateway.invoice_from_object(event.data_object), as_of=event.stripe_created
    )


HANDLERS = {
    "payment_intent.succeeded": payment_intent_succeeded,
    "payment_intent.payment_failed": payment_intent_payment_failed,
    "setup_intent.setup_failed": setup_intent_setup_failed,
    "charge.updated": charge_updated,
    "charge.refunded": charge_refunded,
    "charge.refund.updated": refund_changed,
    "refund.created": refund_changed,
    "refund.updated": refund_changed,
    "refund.failed": refund_changed,
    "charge.dispute.created": dispute_changed,
    "charge.dispute.updated": dispute_changed,
    "charge.dispute.closed": dispute_changed,
    "charge.dispute.funds_withdrawn": dispute_changed,
    "charge.dispute.funds_reinstated": dispute_changed,
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_changed,
    "customer.subscription.paused": subscription_changed,
    "customer.subscription.resumed": subscription_changed,
    "invoice.paid": invoice_paid,
    "invoice.payment_succeeded": invoice_paid,  # what older API versions (and localstripe) send
    "invoice.payment_failed": invoice_payment_failed,
    "invoice.payment_action_required": invoice_payment_action_required,
}


def _reason_to_ignore(event: StripeEvent) -> str:
    """Why an event is not ours to act on, or "" when it is."""
    if event.type not in HANDLERS:
        return f"We do not act on {event.type} events."
    account = event.payload.get("account")
    if account:
        return f"A Connect event for another account ({account}), not ours."
    test_key = settings.STRIPE_SECRET_KEY.startswith(("sk_test_", "rk_test_"))
    if event.livemode and test_key:
        return "A live-mode event, while this site uses a test-mode key."
    if not event.livemode and not test_key:
        return "A test-mode event, while this site uses a live-mode key."
    return ""


def _cause(exc: BaseException) -> str:
    """What staff need to see: Stripe's own error for gateway errors (not the reader's
    sentence), else the exception and what caused it."""
    if isinstance(exc, gateway.GatewayError):
        return exc.detail
    text = "".join(traceback.format_exception_only(exc)).strip()
    if exc.__cause__ is not None:
        text += "\ncaused by " + "".join(traceback.format_exception_only(exc.__cause__)).strip()
    return text


def process_event(event_pk: int) -> str:
    """Run the handler for a stored event once; return the event's final status.

    Concurrent runs for the same event queue up on the row lock; the second
    finds it processed and does nothing. An event that is not ours (a type we
    do not handle, another account's, an object Stripe says we do not have)
    ends as ignored with the reason. A handler error is recorded on the event
    (attempts, the cause) and raised as EventFailed for a retry.
    """
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.status in (EventStatus.PROCESSED, EventStatus.IGNORED):
            return event.status
        event.attempts += 1
        reason = _reason_to_ignore(event)
        failure = None
        if not reason:
            try:
                with transaction.atomic():
                    HANDLERS[event.type](event)
            except gateway.ObjectNotFound as exc:
                reason = f"Stripe has no such object for our account: {exc.detail}"
            except services.NotOurs as exc:
                reason = str(exc)
            except Exception as exc:
                logger.exception("Stripe event %s (%s) failed", event.stripe_id, event.type)
                failure = exc
        if failure is not None:
            EVENT.advance(event, EventStatus.FAILED)
            event.last_error = _cause(failure)[:2000]
        else:
            EVENT.advance(event, EventStatus.IGNORED if reason else EventStatus.PROCESSED)
            event.ignored_reason = reason[:500]
            event.processed_at = timezone.now()
            event.last_error = ""
        event.save()
    if failure is not None:
        raise EventFailed(f"{event.type} {event.stripe_id}: {failure}") from failure
    return event.status
