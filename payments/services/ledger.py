"""The ledger: one Payment row per charge (one-time or invoice), its fee and its receipt."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, Q

from payments import stripe_gateway as gateway
from payments.models import Donation, Donor, Payment, Receipt
from payments.services import revenue_rollup
from payments.services.inbox import NotOurs
from payments.services.refunds import upsert_refund
from payments.states import (
    DONATION,
    DonationStatus,
    PaymentKind,
)

logger = logging.getLogger(__name__)


# Metadata keys we put on Stripe objects to find our records again.
META_DONATION = "patronage_donation"
META_KIND = "patronage_kind"


def receipt_number(payment: Payment) -> str:
    return f"{payment.paid_at:%Y}-{payment.pk:08d}"


def _charge_with_fee(intent: gateway.IntentInfo, charge_id: str | None = None):
    """The intent's charge with Stripe's fee: from the intent if it came expanded, else read."""
    if intent.charge is not None and intent.charge.fee is not None:
        return intent.charge
    return gateway.retrieve_charge(intent.charge_id or charge_id)


def _believable_charge(intent: gateway.IntentInfo, donation: Donation) -> gateway.ChargeInfo:
    """The charge to write on the ledger for a gift's PaymentIntent.

    An event that says another amount or currency than the gift was for (or a
    charge that disagrees with its own PaymentIntent) is not believed: the
    PaymentIntent and its charge are read back from Stripe, whose word is what
    the ledger records.
    """
    expected = (donation.amount + donation.fee_cover, donation.currency)
    charge = intent.charge
    consistent = (intent.amount, intent.currency) == expected and (
        charge is None
        or (charge.amount, charge.currency, charge.id) == (*expected, intent.charge_id)
    )
    if not consistent:
        logger.warning("PaymentIntent %s: the event disagrees with its gift; read back", intent.id)
        intent = gateway.retrieve_payment_intent(intent.id)
        return gateway.retrieve_charge(intent.charge_id)
    return _charge_with_fee(intent)


def record_intent_payment(intent: gateway.IntentInfo) -> Payment | None:
    """One ledger row for a succeeded PaymentIntent of a one-time gift (idempotent).

    Returns None for PaymentIntents that are not ours (no donation metadata),
    such as membership invoices, which are recorded from their invoice.

    The gift and whether its PaymentIntent is on the ledger already are read in one
    query; the charge (and its fee, when the event does not carry it) is then read from
    Stripe before the gift is locked. Under the lock the row is written unless a run that
    got there first wrote it; the gift's own row changes only in the fields that move.
    """
    if intent.status != "succeeded" or not intent.metadata.get(META_DONATION):
        return None
    recorded = Payment.objects.filter(stripe_payment_intent_id=intent.id)
    try:  # (get: no ORDER BY to build or run for a unique key)
        donation = Donation.objects.annotate(recorded=Exists(recorded)).get(
            public_id=intent.metadata[META_DONATION]
        )
    except Donation.DoesNotExist:
        logger.warning("PaymentIntent %s names an unknown donation", intent.id)
        return None
    # Stripe's word, read with no lock held (ledger rows are never deleted: once
    # recorded, the charge is not needed again).
    charge = None if donation.recorded else _believable_charge(intent, donation)
    with transaction.atomic():
        donation = (
            Donation.objects.select_for_update(of=("self",))
            .select_related("donor")
            .get(pk=donation.pk)
        )
        # Read after the lock is taken, in a statement of its own: a run that held the
        # lock before us has committed its row by now, and only a new statement sees it
        # (a subquery of the locking statement would read the snapshot from before the
        # wait). One query: this PaymentIntent's row, and the gift's first payment.
        rows = list(
            Payment.objects.filter(
                Q(stripe_payment_intent_id=intent.id) | Q(donation=donation)
            ).order_by()  # (any order: no sort for the model's default ordering)
        )
        payment = next((p for p in rows if p.stripe_payment_intent_id == intent.id), None)
        if payment is None:
            linked = any(p.donation_id == donation.pk for p in rows)
            payment = _record_gift_payment(donation, intent, charge, linked=linked)
        if DONATION.advance(donation, DonationStatus.SUCCEEDED):
            donation.stripe_payment_intent_id = intent.id
            donation.save(update_fields=["status", "stripe_payment_intent_id", "updated_at"])
        return payment


def _record_gift_payment(
    donation: Donation, intent: gateway.IntentInfo, charge: gateway.ChargeInfo, *, linked: bool
) -> Payment:
    """The ledger row and its receipt; the (locked) donation is linked to its first payment
    only (`linked`: it has one; a second card that also succeeded is a row of its own)."""
    payment = Payment.objects.create(
        donor=donation.donor,
        kind=donation.kind,
        amount=charge.amount,
        currency=charge.currency,
        fee=charge.fee,
        net=charge.net,
        donation=None if linked else donation,
        stripe_payment_intent_id=intent.id,
        stripe_charge_id=charge.id,
        paid_at=charge.created,
        donor_name=donation.name,
        **donation.attribution(),
    )
    create_receipt(payment)
    return payment


@dataclass(frozen=True)
class InvoicePayment:
    """What a paid invoice brought in, in Stripe's words: the ledger row's fields, and the
    refunds already made on its charge (their events came first)."""

    invoice_id: str
    fields: dict = field(default_factory=dict)
    refunds: tuple[gateway.RefundInfo, ...] = ()


def read_invoice_payment(invoice: gateway.InvoiceInfo) -> InvoicePayment | None:
    """Read from Stripe what `record_invoice_payment` writes, before any lock is taken.
    None for an invoice paid with no charge (zero amount, credit balance): no row."""
    if invoice.amount_paid <= 0:
        return None
    if not invoice.payments_included or not (invoice.payment_intent_id or invoice.charge_id):
        # Webhooks leave out the invoice's payments; and what an invoice paid outside
        # Stripe brought in is taken from Stripe's invoice, not from an event's word.
        invoice = gateway.retrieve_invoice(invoice.id)
    fields = {"kind": PaymentKind.MEMBERSHIP, "stripe_invoice_id": invoice.id}
    if not (invoice.payment_intent_id or invoice.charge_id):
        # Marked paid outside Stripe (cheque, transfer): no card, no Stripe fee.
        fields |= {
            "amount": invoice.amount_paid,
            "currency": invoice.currency,
            "fee": 0,
            "net": invoice.amount_paid,
            "paid_at": invoice.paid_at or invoice.created,
        }
        return InvoicePayment(invoice.id, fields)
    intent = (
        gateway.retrieve_payment_intent(invoice.payment_intent_id)
        if invoice.payment_intent_id
        else None
    )
    charge = (
        _charge_with_fee(intent, invoice.charge_id)
        if intent
        else gateway.retrieve_charge(invoice.charge_id)
    )
    fields |= {
        "amount": charge.amount,
        "currency": charge.currency,
        "fee": charge.fee,
        "net": charge.net,
        "stripe_payment_intent_id": intent.id if intent else None,
        "stripe_charge_id": charge.id,
        "paid_at": charge.created,
    }
    # Its refund's events came first: they are recorded with it.
    refunds = tuple(gateway.list_refunds(charge.id)) if charge.amount_refunded else ()
    return InvoicePayment(invoice.id, fields, refunds)


def record_invoice_payment(
    paid: InvoicePayment | None,
    *,
    invoice_id: str,
    donor: Donor,
    donor_name: str = "",
    attribution: dict | None = None,
) -> Payment | None:
    """One ledger row (kind: membership) and one receipt per paid invoice (idempotent),
    from what `read_invoice_payment` read (None: no row to write).

    The caller holds the membership's row lock, so the same invoice's events queue;
    nothing here asks Stripe.
    """
    payment = Payment.objects.filter(stripe_invoice_id=invoice_id).first()
    if payment is not None or paid is None:
        return payment
    with transaction.atomic(savepoint=False):  # the caller's transaction: no savepoint
        payment = Payment.objects.create(
            **paid.fields, donor=donor, donor_name=donor_name, **(attribution or {})
        )
        create_receipt(payment)
        for refund in paid.refunds:
            upsert_refund(payment, refund)
    return payment


def record_charge_fee(charge: gateway.ChargeInfo) -> None:
    """Fill in Stripe's fee once its balance transaction exists (idempotent).

    On current API versions a charge may succeed before its balance transaction
    is created; `charge.updated` then brings the fee. A charge event that does
    not carry the transaction expanded is read back from Stripe.
    """
    payment = Payment.objects.filter(stripe_charge_id=charge.id, fee__isnull=True).first()
    if payment is None:
        return  # not ours, already known, or not in the ledger yet (recorded with its fee then)
    if charge.fee is None:
        charge = gateway.retrieve_charge(charge.id)
        if charge.fee is None:
            return  # still settling: the next charge.updated brings it
    with transaction.atomic():
        updated = Payment.objects.filter(pk=payment.pk, fee__isnull=True).update(
            fee=charge.fee, net=charge.net
        )
        if updated:
            revenue_rollup.add_fee(payment, charge.fee)


def create_receipt(payment: Payment) -> Receipt:
    """The payment's receipt, emailed by a task once the ledger row is committed."""
    from payments.tasks import send_receipt

    receipt = Receipt.objects.create(
        payment=payment, number=receipt_number(payment), email=payment.donor.email
    )
    transaction.on_commit(lambda: send_receipt.delay(payment.pk), robust=True)
    return receipt


InvoiceRecorder = Callable[[str], Payment | None]
_invoice_recorder: InvoiceRecorder | None = None


def records_invoices(recorder: InvoiceRecorder) -> InvoiceRecorder:
    """Register (as a decorator) how an invoice paid at Stripe is recorded: by the app
    that owns subscriptions (members), which payments never imports."""
    global _invoice_recorder
    _invoice_recorder = recorder
    return recorder


def payment_for_charge(charge_id: str | None, payment_intent_id: str | None) -> Payment:
    """The ledger row a refund or dispute is about, recorded first when its own events
    are late or were lost, so nothing about money is dropped for arriving early.

    The charge is read back from Stripe: a one-time payment is recorded from its
    PaymentIntent; a subscription's is recorded from the invoice it paid, by
    the registered invoice recorder (see `records_invoices`). Raises NotOurs when
    the charge belongs to no payment of ours.
    """
    known = Q(stripe_charge_id=charge_id) if charge_id else Q(pk__in=[])
    if payment_intent_id:
        known |= Q(stripe_payment_intent_id=payment_intent_id)
    payment = Payment.objects.filter(known).first()
    if payment is not None:
        return payment
    if not payment_intent_id and charge_id:
        payment_intent_id = gateway.retrieve_charge(charge_id).payment_intent_id
    if payment_intent_id:
        payment = record_intent_payment(gateway.retrieve_payment_intent(payment_intent_id))
        if payment is None and _invoice_recorder is not None:
            invoice_id = gateway.invoice_id_for_payment_intent(payment_intent_id)
            payment = _invoice_recorder(invoice_id) if invoice_id else None
    if payment is None:
        raise NotOurs(
            f"Charge {charge_id or '-'} (PaymentIntent {payment_intent_id or '-'}) "
            "is not a payment of ours."
        )
    return payment
