"""payments' own Stripe event handlers: one-time payments, fees, refunds, disputes.

Registered by type in the inbox (`payments.services.inbox.stripe_event`) when the
app is ready; members registers the subscription and invoice handlers in its own.
"""

from payments import card_testing, signals
from payments import stripe_gateway as gateway
from payments.models import StripeEvent
from payments.services import donations, ledger, refunds
from payments.services.inbox import NotOurs, stripe_event
from payments.services.ledger import META_DONATION, META_KIND

card_testing.counts_starts_named_by(META_DONATION)(donations.donation_card_check_failed)


@stripe_event("payment_intent.succeeded")
def payment_intent_succeeded(event: StripeEvent) -> None:
    intent = gateway.intent_from_object(event.data_object)
    payment = ledger.record_intent_payment(intent)
    if payment is not None:
        signals.one_time_payment_succeeded.send(
            sender=StripeEvent,
            donation_id=intent.metadata[META_DONATION],
            kind=payment.kind,
            campaign=payment.campaign,
        )


@stripe_event("payment_intent.payment_failed")
def payment_intent_payment_failed(event: StripeEvent) -> None:
    """A declined payment: the gift shows it, and it counts as a failed card check (also
    when the card was tried on the PaymentIntent's client secret, directly at Stripe)."""
    intent = gateway.intent_from_object(event.data_object)
    donations.mark_intent_failed(intent)
    if intent.metadata.get(META_DONATION):
        signals.one_time_payment_failed.send(
            sender=StripeEvent,
            donation_id=intent.metadata[META_DONATION],
            kind=intent.metadata.get(META_KIND, ""),
        )
        card_testing.count_failed_start(intent.metadata, card_testing.payment_failure(intent))


@stripe_event("setup_intent.setup_failed")
def setup_intent_setup_failed(event: StripeEvent) -> None:
    """A card declined while being set up: Stripe.js confirms SetupIntents directly with
    Stripe, so this event is how we learn of it. Counted against the start its metadata
    names: a membership's card-update form (members' counter, see card_testing), or a gift
    started before gifts took their card as a PaymentMethod."""
    setup = gateway.setup_intent_from_object(event.data_object)
    failure = card_testing.setup_failure(setup, event_id=event.stripe_id)
    if not card_testing.count_failed_start(setup.metadata, failure):
        raise NotOurs(
            f"SetupIntent {setup.id} is not for a card form of ours (a gift or a membership)."
        )


@stripe_event("charge.updated")
def charge_updated(event: StripeEvent) -> None:
    """Stripe settles a charge's fee after the payment succeeds (asynchronous capture)."""
    ledger.record_charge_fee(gateway.charge_from_object(event.data_object))


@stripe_event("charge.refunded")
def charge_refunded(event: StripeEvent) -> None:
    charge = gateway.charge_from_object(event.data_object)
    refunds.sync_refunds_for_charge(ledger.payment_for_charge(charge.id, charge.payment_intent_id))


@stripe_event("charge.refund.updated", "refund.created", "refund.updated", "refund.failed")
def refund_changed(event: StripeEvent) -> None:
    refund = gateway.refund_from_object(event.data_object)
    payment = ledger.payment_for_charge(refund.charge_id, refund.payment_intent_id)
    refunds.record_refund_event(payment, refund)


@stripe_event(
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
def dispute_changed(event: StripeEvent) -> None:
    dispute = gateway.dispute_from_object(event.data_object)
    payment = ledger.payment_for_charge(dispute.charge_id, dispute.payment_intent_id)
    refunds.upsert_dispute(payment, dispute, as_of=event.stripe_created)
