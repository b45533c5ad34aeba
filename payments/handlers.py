"""One function per Stripe event type, dispatched from HANDLERS by `process_event`.

Handlers are idempotent and do not trust event order: they read the object in
the event, re-read from Stripe what they need and do not have yet, and move
statuses only forward (see states.py). Unknown types are stored and ignored.
"""

import logging
import traceback

from django.db import transaction
from django.utils import timezone

from members import gifts
from members import services as members
from payments import services
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
    intent = gateway.intent_from_object(event.data_object)
    services.mark_intent_failed(intent)
    if intent.metadata.get(services.META_KIND) == PaymentKind.GIFT:
        gifts.gift_payment_failed(intent.metadata[services.META_DONATION])


def charge_refunded(event: StripeEvent) -> None:
    charge = gateway.charge_from_object(event.data_object)
    payment = services.payment_for_charge(charge.id, charge.payment_intent_id)
    if payment is not None:
        services.sync_refunds_for_charge(payment)


def refund_changed(event: StripeEvent) -> None:
    refund = gateway.refund_from_object(event.data_object)
    payment = services.payment_for_charge(refund.charge_id, refund.payment_intent_id)
    if payment is not None:
        services.upsert_refund(payment, refund)


def dispute_changed(event: StripeEvent) -> None:
    dispute = gateway.dispute_from_object(event.data_object)
    payment = services.payment_for_charge(dispute.charge_id, dispute.payment_intent_id)
    if payment is not None:
        services.upsert_dispute(payment, dispute)


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


HANDLERS = {
    "payment_intent.succeeded": payment_intent_succeeded,
    "payment_intent.payment_failed": payment_intent_payment_failed,
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
}


def process_event(event_pk: int) -> str:
    """Run the handler for a stored event once; return the event's final status.

    Concurrent runs for the same event queue up on the row lock; the second
    finds it processed and does nothing. A handler error is recorded on the
    event (attempts, last error) and raised as EventFailed for a retry.
    """
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.status in (EventStatus.PROCESSED, EventStatus.IGNORED):
            return event.status
        handler = HANDLERS.get(event.type)
        event.attempts += 1
        if handler is None:
            EVENT.advance(event, EventStatus.IGNORED)
            event.processed_at = timezone.now()
            event.save()
            return event.status
        try:
            with transaction.atomic():
                handler(event)
        except Exception as exc:
            logger.exception("Stripe event %s (%s) failed", event.stripe_id, event.type)
            EVENT.advance(event, EventStatus.FAILED)
            event.last_error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
            event.save()
            failure = exc
        else:
            EVENT.advance(event, EventStatus.PROCESSED)
            event.processed_at = timezone.now()
            event.last_error = ""
            event.save()
            return event.status
    raise EventFailed(f"{event.type} {event.stripe_id}: {failure}") from failure
