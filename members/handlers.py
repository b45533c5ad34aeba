"""members' Stripe event handlers (subscriptions and their invoices), and what members
plugs into payments: the card checks of membership forms, the recorder of paid
invoices, and gift memberships following their one-time payment (paid, declined,
refunded).

Registered when the app is ready (apps.py); payments never imports this module.
"""

from django.dispatch import receiver

from members.services import card_checks, gifts, stripe_sync
from payments import card_testing, signals
from payments import stripe_gateway as gateway
from payments.models import Payment, Refund, StripeEvent
from payments.services import ledger
from payments.services.inbox import stripe_event
from payments.states import PaymentKind

card_testing.counts_starts_named_by(stripe_sync.META_MEMBERSHIP)(
    card_checks.membership_card_check_failed
)
ledger.records_invoices(stripe_sync.record_invoice_by_id)


@stripe_event(
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
)
def subscription_changed(event: StripeEvent) -> None:
    subscription = gateway.subscription_from_object(event.data_object)
    stripe_sync.sync_subscription(subscription, as_of=event.stripe_created)


@stripe_event("invoice.paid", "invoice.payment_succeeded")  # the latter: older API versions
def invoice_paid(event: StripeEvent) -> None:
    invoice = gateway.invoice_from_object(event.data_object)
    if invoice.status == "paid":
        stripe_sync.record_paid_invoice(invoice, as_of=event.stripe_created)


@stripe_event("invoice.payment_failed")
def invoice_payment_failed(event: StripeEvent) -> None:
    """A renewal failed (the member is told), or a first payment was declined (a failed
    card check of that join)."""
    invoice = gateway.invoice_from_object(event.data_object)
    stripe_sync.record_failed_invoice(invoice, as_of=event.stripe_created)
    card_checks.count_first_payment_failure(invoice)


@stripe_event("invoice.payment_action_required")
def invoice_payment_action_required(event: StripeEvent) -> None:
    """A renewal waits for the member's 3-D Secure (Strong Customer Authentication)."""
    invoice = gateway.invoice_from_object(event.data_object)
    stripe_sync.record_action_required_invoice(invoice, as_of=event.stripe_created)


@receiver(signals.one_time_payment_succeeded)
def gift_membership_paid(sender, donation_id: str, kind: str, **kwargs) -> None:
    if kind == PaymentKind.GIFT:
        gifts.gift_paid(donation_id)


@receiver(signals.one_time_payment_failed)
def gift_membership_payment_failed(sender, donation_id: str, kind: str, **kwargs) -> None:
    if kind == PaymentKind.GIFT:
        gifts.gift_payment_failed(donation_id)


@receiver(signals.payment_refunded)
def gift_membership_refunded(sender, payment: Payment, refund: Refund, **kwargs) -> None:
    """A gift membership ends when its payment is refunded in full, or in part when staff
    chose to end it with the refund."""
    if payment.kind != PaymentKind.GIFT or payment.donation_id is None:
        return
    if payment.amount_refunded >= payment.amount or refund.ends_membership:
        gifts.end_refunded_gift(payment.donation_id)
