"""Money going back: refunds (from admin or Stripe) and disputes."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from config.errors import Refused
from payments import stripe_gateway as gateway
from payments.models import Dispute, Payment, Refund
from payments.money import Money
from payments.states import (
    DISPUTE,
    REFUND,
    RefundStatus,
)


def refund_payment(payment: Payment, *, amount: int, request_key: str, requested_by=None) -> Refund:
    """Ask Stripe to give back `amount` of a ledger row (staff action).

    `request_key` identifies this request (the admin form's nonce), so a
    double submission reaches Stripe with the same idempotency key and
    refunds once.

    What can still be refunded is checked on the row as read, with no lock held while
    Stripe is asked (Stripe itself never refunds more than the charge); Stripe's answer
    is then stored under the payment's lock (`upsert_refund`).
    """
    payment = Payment.objects.get(pk=payment.pk)
    pending = (
        payment.refunds.filter(
            status__in=[RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION]
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    available = payment.amount - payment.amount_refunded - pending
    if payment.is_paid_outside_stripe:
        raise Refused("This invoice was paid outside Stripe: refund it the same way.")
    if amount <= 0:
        raise Refused("Enter an amount above zero.")
    if amount > available:
        raise Refused(f"At most {Money(available, payment.currency)} can still be refunded.")
    try:
        info = gateway.create_refund(
            payment_intent_id=payment.stripe_payment_intent_id,
            charge_id=payment.stripe_charge_id,
            amount=amount,
            metadata={"patronage_payment": str(payment.pk)},
            idempotency_key=f"refund-{request_key}",
        )
    except gateway.GatewayError as exc:
        raise Refused(exc.user_message) from exc
    return upsert_refund(payment, info, requested_by=requested_by)


def upsert_refund(payment: Payment, info: gateway.RefundInfo, *, requested_by=None) -> Refund:
    """Store Stripe's view of a refund, move its status forward only, update the total."""
    with transaction.atomic():
        # The lock order: the payment (whose total changes) before its refund.
        Payment.objects.select_for_update(of=("self",)).filter(pk=payment.pk).first()
        refund = (
            Refund.objects.select_for_update(of=("self",)).filter(stripe_refund_id=info.id).first()
        )
        if refund is None:
            try:
                with transaction.atomic():
                    refund = Refund.objects.create(
                        payment=payment,
                        stripe_refund_id=info.id,
                        amount=info.amount,
                        currency=info.currency,
                        status=info.status,
                        reason=info.reason,
                        requested_by=requested_by,
                    )
            except IntegrityError:  # recorded concurrently (webhook vs admin)
                refund = Refund.objects.select_for_update(of=("self",)).get(
                    stripe_refund_id=info.id
                )
        if REFUND.advance(refund, info.status):
            refund.save()
        _recount_refunds(payment)
        if refund.status == RefundStatus.SUCCEEDED and refund.notice_sent_at is None:
            from payments.tasks import send_refund_notice

            transaction.on_commit(lambda: send_refund_notice.delay(refund.pk), robust=True)
    return refund


def _recount_refunds(payment: Payment) -> None:
    """amount_refunded is always the sum of succeeded refunds, so replays cannot inflate it."""
    total = (
        payment.refunds.filter(status=RefundStatus.SUCCEEDED).aggregate(total=Sum("amount"))[
            "total"
        ]
        or 0
    )
    Payment.objects.filter(pk=payment.pk).update(amount_refunded=total)
    payment.amount_refunded = total


def sync_refunds_for_charge(payment: Payment) -> None:
    """Store every refund Stripe lists for the payment's charge; call it with no lock held
    (Stripe is read first, then each refund is stored under its own short lock)."""
    for info in gateway.list_refunds(payment.stripe_charge_id):
        upsert_refund(payment, info)


def upsert_dispute(payment: Payment, info: gateway.DisputeInfo, *, as_of: datetime) -> Dispute:
    """Store Stripe's view of a dispute as of `as_of` (the event's time); an older
    snapshot than the one held changes nothing, so a late event never undoes a newer one."""
    with transaction.atomic():
        dispute, created = Dispute.objects.select_for_update(of=("self",)).get_or_create(
            stripe_dispute_id=info.id,
            defaults={
                "payment": payment,
                "amount": info.amount,
                "currency": info.currency,
                "reason": info.reason,
                "status": info.status,
                "opened_at": info.created,
                "status_as_of": as_of,
            },
        )
        is_newer = dispute.status_as_of is None or as_of >= dispute.status_as_of
        if not created and is_newer and DISPUTE.advance(dispute, info.status):
            dispute.status_as_of = as_of
        if dispute.is_open:
            dispute.closed_at = None  # an appeal reopens a lost dispute
        elif dispute.closed_at is None:
            dispute.closed_at = timezone.now()
        dispute.save()
    return dispute
