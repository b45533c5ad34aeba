"""Money going back: refunds (from admin or Stripe) and disputes."""

from datetime import datetime

from django.db import IntegrityError, models, transaction
from django.db.models import Sum
from django.utils import timezone

from config.errors import Refused
from payments import signals
from payments import stripe_gateway as gateway
from payments.models import Dispute, Payment, Refund
from payments.money import Money
from payments.states import (
    DISPUTE,
    REFUND,
    RefundStatus,
)


class RefundReason(models.TextChoices):
    """The reasons Stripe accepts when a refund is created (its `reason` parameter)."""

    REQUESTED_BY_CUSTOMER = "requested_by_customer", "Requested by the donor"
    DUPLICATE = "duplicate", "Duplicate payment"
    FRAUDULENT = "fraudulent", "Fraudulent (Stripe also blocks the card and email)"


def pending_refunds(payment: Payment) -> int:
    """Refunds asked for whose success Stripe has not confirmed yet (minor units)."""
    return (
        payment.refunds.filter(
            status__in=[RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION]
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def refundable_amount(payment: Payment) -> int:
    """What may still be refunded: neither refunded nor asked for already."""
    return payment.amount - payment.amount_refunded - pending_refunds(payment)


def refund_payment(
    payment: Payment,
    *,
    amount: int,
    request_key: str,
    requested_by=None,
    reason: str = "",
    note: str = "",
    ends_membership: bool = False,
) -> Refund:
    """Ask Stripe to give back `amount` of a ledger row (staff action).

    `request_key` identifies this request (the admin form's nonce), so a
    double submission reaches Stripe with the same idempotency key and
    refunds once. `reason` is one of RefundReason (sent to Stripe); `note` is
    staff's own, kept here; `ends_membership` asks to end the gift membership the
    payment bought, once the refund succeeds (members follows `payment_refunded`).

    The ledger does not move here: the refund is recorded as pending (it counts
    against what can still be refunded) and Stripe's refund event, handled by
    `upsert_refund`, sets its status and the payment's refunded total.

    What can still be refunded is checked on the row as read, with no lock held while
    Stripe is asked (Stripe itself never refunds more than the charge).
    """
    payment = Payment.objects.get(pk=payment.pk)
    available = refundable_amount(payment)
    if payment.is_paid_outside_stripe:
        raise Refused("This invoice was paid outside Stripe: refund it the same way.")
    if amount <= 0:
        raise Refused("Enter an amount above zero.")
    if amount > available:
        raise Refused(f"At most {Money(available, payment.currency)} can still be refunded.")
    if reason and reason not in RefundReason.values:
        raise Refused("Choose one of Stripe's refund reasons.", field="reason")
    try:
        info = gateway.create_refund(
            payment_intent_id=payment.stripe_payment_intent_id,
            charge_id=payment.stripe_charge_id,
            amount=amount,
            reason=reason,
            metadata={"patronage_payment": str(payment.pk)},
            idempotency_key=f"refund-{request_key}",
        )
    except gateway.GatewayError as exc:  # staff's sentence, with Stripe's detail
        raise Refused(gateway.staff_message(exc, "The refund")) from exc
    refund = _record_requested_refund(
        payment,
        info,
        requested_by=requested_by,
        note=note.strip()[:500],
        ends_membership=ends_membership,
    )
    if refund.status == RefundStatus.SUCCEEDED:
        # Stripe's event came first and was handled before staff's choices were stored
        # here: announce again, now with them (receivers are idempotent).
        _announce_refunded(refund)
    return refund


def _record_requested_refund(
    payment: Payment, info: gateway.RefundInfo, *, requested_by, note: str, ends_membership: bool
) -> Refund:
    """The refund staff asked for, as pending (or Stripe's failure): the ledger waits for
    Stripe's event. If the event came first, its row is kept and given staff's fields."""
    answered = info.status if info.status in (RefundStatus.FAILED, RefundStatus.CANCELED) else None
    staff_fields = {
        "reason": info.reason,
        "note": note,
        "requested_by": requested_by,
        "ends_membership": ends_membership,
    }
    with transaction.atomic():
        refund, created = Refund.objects.select_for_update(of=("self",)).get_or_create(
            stripe_refund_id=info.id,
            defaults={
                "payment": payment,
                "amount": info.amount,
                "currency": info.currency,
                "status": answered or RefundStatus.PENDING,
                **staff_fields,
            },
        )
        if not created:
            _keep_staff_fields(refund, **staff_fields)
            if answered and REFUND.advance(refund, answered):
                refund.save(update_fields=["status", "updated_at"])
    return refund


def _keep_staff_fields(refund: Refund, **fields) -> None:
    """Fill what staff gave that the row lacks; never blank what it holds."""
    changed = []
    for name, value in fields.items():
        if value and not getattr(refund, name):
            setattr(refund, name, value)
            changed.append(name)
    if changed:
        refund.save(update_fields=[*changed, "updated_at"])


def upsert_refund(payment: Payment, info: gateway.RefundInfo) -> Refund:
    """Store Stripe's view of a refund (from its events, or Stripe's list): move its
    status forward only and recount the payment's refunded total. Staff's fields (note,
    who asked, whether the gift ends) on a row made at request time are kept."""
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
                    )
            except IntegrityError:  # recorded concurrently (webhook vs admin)
                refund = Refund.objects.select_for_update(of=("self",)).get(
                    stripe_refund_id=info.id
                )
        changed = REFUND.advance(refund, info.status)
        if info.reason and not refund.reason:
            refund.reason = info.reason
            changed = True
        if changed:
            refund.save()
        _recount_refunds(payment)
        if refund.status == RefundStatus.SUCCEEDED and refund.notice_sent_at is None:
            from payments.tasks import send_refund_notice

            transaction.on_commit(lambda: send_refund_notice.delay(refund.pk), robust=True)
    return refund


def record_refund_event(payment: Payment, info: gateway.RefundInfo) -> Refund:
    """A refund as Stripe's event (or list) shows it: stored, then announced once the
    payment's lock is released if it has succeeded (members ends a refunded gift)."""
    refund = upsert_refund(payment, info)
    if refund.status == RefundStatus.SUCCEEDED:
        _announce_refunded(refund)
    return refund


def _announce_refunded(refund: Refund) -> None:
    """Sent each time a succeeded refund is seen (replays too): a receiver that failed
    is retried with the event, so receivers must be, and are, idempotent."""
    payment = Payment.objects.get(pk=refund.payment_id)
    signals.payment_refunded.send(sender=Payment, payment=payment, refund=refund)


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
        record_refund_event(payment, info)


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
