"""Writes in payments: donors, one-time gifts, the ledger, refunds, disputes, the inbox.

Each function runs in one transaction. Stripe is reached only through
`stripe_gateway`; its idempotency keys are derived from our own records
(never from a database id that a rolled-back transaction could hand out twice).

Lock order. Every service, handler and task of the money core takes row locks
in this one order, and locks only the rows it changes
(`select_for_update(of=("self",))`, never a joined chain), so two of them can
never wait on each other in a circle:

    Stripe event → membership → gift membership → donor → donation
        → payment → refund → dispute → receipt

Failed card checks are counted last (`payments.card_testing`: a lock per source,
then the block's row), after the gift or membership they belong to; admin's
"lift" takes only block rows.

Receipts and refund notices are claimed in a transaction of their own (see
`payments.emails`), so nothing is locked while an email is sent.
"""

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from payments import card_testing
from payments import stripe_gateway as gateway
from payments.currencies import fee_cover, get_currency, minimum_gift
from payments.models import Dispute, Donation, Donor, Payment, Receipt, Refund, StripeEvent
from payments.money import Money
from payments.states import (
    DISPUTE,
    DONATION,
    EVENT,
    REFUND,
    DonationStatus,
    EventStatus,
    PaymentKind,
    RefundStatus,
)

logger = logging.getLogger(__name__)

# Metadata keys we put on Stripe objects to find our records again.
META_DONATION = "patronage_donation"
META_KIND = "patronage_kind"


class DonationRefused(Exception):
    """A gift we will not start or continue; `message` is for the reader."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class RefundRefused(Exception):
    """A refund staff asked for that cannot be made; the message says why."""


# --- Donors ------------------------------------------------------------------------


def get_or_create_donor(email: str, *, name: str = "", user=None) -> Donor:
    """The one donor for this email (any casing), created on first gift.

    Anyone can type any address into a gift form, so a guest's request never
    changes a stored donor: the name given is kept with that gift (and printed
    on its receipt) instead. Only the signed-in owner of the address (`user`,
    whose address is verified) renames their donor record or links it.
    """
    email = email.strip().lower()
    owner = user if user is not None and user.email.strip().lower() == email else None
    try:
        with transaction.atomic():
            donor, created = Donor.objects.get_or_create(
                email=email, defaults={"name": name, "user": owner}
            )
    except IntegrityError:  # created concurrently by another request
        donor, created = Donor.objects.get(email=email), False
    if created or owner is None or donor.user_id not in (None, owner.pk):
        return donor
    changed = []
    if name and donor.name != name:
        donor.name = name
        changed.append("name")
    if donor.user_id is None:
        donor.user = owner
        changed.append("user")
    if changed:
        donor.save(update_fields=changed)
    return donor


def link_donor_to_user(email: str, user) -> None:
    """A verified address joins the account: its earlier gifts show in the account."""
    Donor.objects.filter(email=email.strip().lower(), user__isnull=True).update(user=user)


def ensure_stripe_customer(donor: Donor) -> str:
    if donor.stripe_customer_id:
        return donor.stripe_customer_id
    key = "customer-" + hashlib.sha256(donor.email.encode()).hexdigest()[:32]
    customer_id = gateway.create_customer(email=donor.email, name=donor.name, idempotency_key=key)
    Donor.objects.filter(pk=donor.pk, stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer_id
    )
    donor.refresh_from_db(fields=["stripe_customer_id"])
    return donor.stripe_customer_id


# --- One-time gifts ----------------------------------------------------------------


@dataclass(frozen=True)
class PayOutcome:
    """What a payment page (give, gift, join) does next.

    status: "succeeded" | "processing" | "requires_action" (run Stripe.js
    confirmCardPayment with client_secret) | "failed" (show message; the
    reader may confirm another card with setup_client_secret).
    """

    status: str
    client_secret: str | None = None
    setup_client_secret: str | None = None
    message: str | None = None


def check_gift_amount(amount: int, currency_code: str) -> None:
    currency = get_currency(currency_code)
    if currency is None:
        raise DonationRefused(f"We do not accept {currency_code}.", field="currency")
    minimum = minimum_gift(currency)
    if amount < minimum:
        raise DonationRefused(
            f"The smallest gift is {Money(minimum, currency.code)}.", field="amount"
        )
    if amount > currency.maximum:
        raise DonationRefused(
            f"The largest gift we take online is {Money(currency.maximum, currency.code)}.",
            field="amount",
        )


@transaction.atomic
def start_donation(
    *,
    amount: int,
    currency: str,
    email: str,
    name: str = "",
    cover_fees: bool = False,
    user=None,
    attribution: dict | None = None,
    kind: str = PaymentKind.ONE_TIME,
    client_ip: str | None = None,
) -> tuple[Donation, str]:
    """Record the gift and open a Stripe SetupIntent for the card.

    Returns the donation and the SetupIntent's client secret for Stripe.js.
    Raises DonationRefused for an amount out of bounds, GatewayError when
    Stripe refuses or cannot be reached (then nothing is stored). `client_ip`
    is where the reader started from: failed card checks count against it.
    """
    currency = currency.upper()
    check_gift_amount(amount, currency)
    donor = get_or_create_donor(email, name=name, user=user)
    donation = Donation.objects.create(
        donor=donor,
        name=name.strip(),
        user=user,
        amount=amount,
        fee_cover=fee_cover(amount, currency) if cover_fees else 0,
        currency=currency,
        kind=kind,
        client_ip=card_testing.valid_ip(client_ip),
        **(attribution or {}),
    )
    setup = _open_setup_intent(donation)
    donation.stripe_setup_intent_id = setup.id
    donation.save(update_fields=["stripe_setup_intent_id", "updated_at"])
    return donation, setup.client_secret


def _open_setup_intent(donation: Donation) -> gateway.SetupIntentInfo:
    return gateway.create_setup_intent(
        customer_id=ensure_stripe_customer(donation.donor),
        metadata={META_DONATION: str(donation.public_id), META_KIND: donation.kind},
        usage="on_session",  # charged at once, while the reader is on the page
        idempotency_key=f"donation-{donation.public_id}-setup-{donation.attempts}",
    )


def pay_donation(public_id) -> PayOutcome:
    """Charge the card the reader just confirmed, or report where the gift stands.

    Safe to call again (after 3-D Secure, or twice by a nervous reader): an
    open PaymentIntent is read back, never duplicated, and each new card
    attempt has its own idempotency key.
    """
    with transaction.atomic():
        donation = (
            Donation.objects.select_for_update(of=("self",))
            .select_related("donor")
            .get(public_id=public_id)
        )
        if donation.status == DonationStatus.SUCCEEDED:
            return PayOutcome("succeeded")
        if donation.status == DonationStatus.ABANDONED:
            if card_testing.closed_for_card_testing(donation):
                raise DonationRefused(card_testing.GIFT_ATTEMPTS_USED_UP)
            raise DonationRefused("This gift has expired. Please start again.")
        if donation.stripe_payment_intent_id and donation.status != DonationStatus.FAILED:
            intent = gateway.retrieve_payment_intent(donation.stripe_payment_intent_id)
            if intent.status not in ("requires_payment_method", "canceled"):
                return _follow_intent(donation, intent)
        setup = gateway.retrieve_setup_intent(donation.stripe_setup_intent_id)
        if setup.status != "succeeded" or not setup.payment_method_id:
            raise DonationRefused("Please enter your card details.", field="card")
        if card_testing.active_block(card=setup.card_fingerprint):
            raise DonationRefused(card_testing.CARD_BLOCKED, field="card")
        if donation.attempts >= settings.DONATION_MAX_CARD_ATTEMPTS:
            raise DonationRefused(card_testing.GIFT_ATTEMPTS_USED_UP)
        donation.attempts += 1
        try:
            intent = gateway.create_payment_intent(
                amount=donation.amount + donation.fee_cover,
                currency=donation.currency,
                customer_id=ensure_stripe_customer(donation.donor),
                payment_method_id=setup.payment_method_id,
                metadata={META_DONATION: str(donation.public_id), META_KIND: donation.kind},
                idempotency_key=f"donation-{donation.public_id}-attempt-{donation.attempts}",
            )
        except gateway.CardDeclined as declined:
            if declined.payment_intent_id:
                donation.stripe_payment_intent_id = declined.payment_intent_id
            failure = _declined_payment(donation, declined, card=setup.card_fingerprint)
            return _fail_attempt(donation, declined.user_message, failure=failure)
        donation.stripe_payment_intent_id = intent.id
        return _follow_intent(donation, intent)


def _declined_payment(
    donation: Donation, declined: gateway.CardDeclined, *, card: str | None
) -> card_testing.CardFailure:
    """The failed card check a decline on /pay was, read back from Stripe so that it is
    the same failure Stripe's `payment_intent.payment_failed` names (counted once)."""
    if declined.payment_intent_id:
        try:
            intent = gateway.retrieve_payment_intent(declined.payment_intent_id)
        except gateway.GatewayError:
            logger.warning("Declined PaymentIntent %s not read back", declined.payment_intent_id)
        else:
            return card_testing.payment_failure(intent, card=card)
    return card_testing.CardFailure(
        key=f"payment:donation-{donation.public_id}-attempt-{donation.attempts}",
        stage="payment",
        card=card,
        payment_intent_id=declined.payment_intent_id,
    )


def _follow_intent(donation: Donation, intent: gateway.IntentInfo) -> PayOutcome:
    """Bring the donation's status in line with its PaymentIntent and say what comes next."""
    if intent.status in ("requires_payment_method", "canceled"):
        failure = (
            card_testing.payment_failure(intent)
            if intent.status == "requires_payment_method"
            else None
        )
        return _fail_attempt(
            donation, intent.error_message or "Your card was declined.", failure=failure
        )
    status, outcome = {
        "succeeded": (DonationStatus.SUCCEEDED, PayOutcome("succeeded")),
        "processing": (DonationStatus.PROCESSING, PayOutcome("processing")),
        "requires_capture": (DonationStatus.PROCESSING, PayOutcome("processing")),
    }.get(
        intent.status,
        (
            DonationStatus.REQUIRES_ACTION,
            PayOutcome("requires_action", client_secret=intent.client_secret),
        ),
    )
    DONATION.advance(donation, status)
    donation.last_error = ""
    donation.save()
    return outcome


def _fail_attempt(
    donation: Donation, message: str, *, failure: card_testing.CardFailure | None = None
) -> PayOutcome:
    """This card did not work: record why, count the failed card check, and open a fresh
    SetupIntent for another card, unless the gift has used up its attempts (then it is
    closed, and the reader starts again)."""
    DONATION.advance(donation, DonationStatus.FAILED)
    donation.last_error = message[:500]
    if failure is not None and card_testing.count_donation_failure(donation, failure):
        return PayOutcome("failed", message=f"{message} {card_testing.START_AGAIN}")
    if donation.attempts < settings.DONATION_MAX_CARD_ATTEMPTS:
        setup = _open_setup_intent(donation)
        donation.stripe_setup_intent_id = setup.id
        donation.save()
        return PayOutcome("failed", message=message, setup_client_secret=setup.client_secret)
    donation.save()
    return PayOutcome("failed", message=f"{message} Please start again.")


# --- The ledger ----------------------------------------------------------------------


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
    """
    if intent.status != "succeeded" or not intent.metadata.get(META_DONATION):
        return None
    with transaction.atomic():
        donation = (
            Donation.objects.select_for_update(of=("self",))
            .select_related("donor")
            .filter(public_id=intent.metadata[META_DONATION])
            .first()
        )
        if donation is None:
            logger.warning("PaymentIntent %s names an unknown donation", intent.id)
            return None
        payment = Payment.objects.filter(stripe_payment_intent_id=intent.id).first()
        if payment is None:
            charge = _believable_charge(intent, donation)
            payment = Payment.objects.create(
                donor=donation.donor,
                kind=donation.kind,
                amount=charge.amount,
                currency=charge.currency,
                fee=charge.fee,
                net=charge.net,
                donation=None if Payment.objects.filter(donation=donation).exists() else donation,
                stripe_payment_intent_id=intent.id,
                stripe_charge_id=charge.id,
                paid_at=charge.created,
                donor_name=donation.name,
                **donation.attribution(),
            )
            create_receipt(payment)
        if DONATION.advance(donation, DonationStatus.SUCCEEDED):
            donation.stripe_payment_intent_id = intent.id
            donation.save()
        return payment


def record_invoice_payment(
    invoice: gateway.InvoiceInfo,
    *,
    donor: Donor,
    donor_name: str = "",
    attribution: dict | None = None,
) -> Payment | None:
    """One ledger row (kind: membership) and one receipt per paid invoice (idempotent).

    The caller holds the membership's row lock, so the same invoice's events queue.
    Invoices paid with no charge (zero amount, credit balance) make no row.
    """
    if invoice.amount_paid <= 0:
        return None
    payment = Payment.objects.filter(stripe_invoice_id=invoice.id).first()
    if payment is not None:
        return payment
    if not invoice.payments_included or not (invoice.payment_intent_id or invoice.charge_id):
        # Webhooks leave out the invoice's payments; and what an invoice paid outside
        # Stripe brought in is taken from Stripe's invoice, not from an event's word.
        invoice = gateway.retrieve_invoice(invoice.id)
    fields = {
        "donor": donor,
        "donor_name": donor_name,
        "kind": PaymentKind.MEMBERSHIP,
        "stripe_invoice_id": invoice.id,
    }
    if invoice.payment_intent_id or invoice.charge_id:
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
    else:  # marked paid outside Stripe (cheque, transfer): no card, no Stripe fee
        charge = None
        fields |= {
            "amount": invoice.amount_paid,
            "currency": invoice.currency,
            "fee": 0,
            "net": invoice.amount_paid,
            "paid_at": invoice.paid_at or invoice.created,
        }
    with transaction.atomic():
        payment = Payment.objects.create(**fields, **(attribution or {}))
        create_receipt(payment)
        if charge is not None and charge.amount_refunded:  # its refund's event came first
            sync_refunds_for_charge(payment)
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
    Payment.objects.filter(pk=payment.pk, fee__isnull=True).update(fee=charge.fee, net=charge.net)


def create_receipt(payment: Payment) -> Receipt:
    """The payment's receipt, emailed by a task once the ledger row is committed."""
    from payments.tasks import send_receipt

    receipt = Receipt.objects.create(
        payment=payment, number=receipt_number(payment), email=payment.donor.email
    )
    transaction.on_commit(lambda: send_receipt.delay(payment.pk), robust=True)
    return receipt


def mark_intent_failed(intent: gateway.IntentInfo) -> None:
    """A late or repeated failure never overrides a success, nor a newer attempt."""
    public_id = intent.metadata.get(META_DONATION)
    if not public_id:
        return
    with transaction.atomic():
        donation = Donation.objects.select_for_update().filter(public_id=public_id).first()
        if donation is None or donation.stripe_payment_intent_id not in (None, intent.id):
            return
        if DONATION.advance(donation, DonationStatus.FAILED):
            donation.stripe_payment_intent_id = intent.id
            donation.last_error = (intent.error_message or "Card declined")[:500]
            donation.save()


class NotOurs(Exception):
    """A Stripe object that names no payment of ours: its event is ignored, with this reason."""


def donation_card_check_failed(public_id: str, failure: card_testing.CardFailure) -> bool:
    """Stripe declined a card for a gift (at setup, or when paying): counted against the
    gift, where it came from, its email or member, and the card; the gift is closed once
    it has used up its attempts or one of those is blocked. False for a gift we do not
    have (nothing counted)."""
    try:
        uuid.UUID(str(public_id))
    except ValueError:
        return False
    with transaction.atomic():
        donation = (
            Donation.objects.select_for_update(of=("self",))
            .select_related("donor")
            .filter(public_id=public_id)
            .first()
        )
        if donation is None:
            return False
        card_testing.count_donation_failure(donation, failure)
    return True


def payment_for_charge(
    charge_id: str | None,
    payment_intent_id: str | None,
    *,
    record_invoice: Callable[[str], Payment | None] | None = None,
) -> Payment:
    """The ledger row a refund or dispute is about, recorded first when its own events
    are late or were lost, so nothing about money is dropped for arriving early.

    The charge is read back from Stripe: a one-time payment is recorded from its
    PaymentIntent; a subscription's is recorded from the invoice it paid, by
    `record_invoice(invoice_id)` (memberships provide it). Raises NotOurs when
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
        if payment is None and record_invoice is not None:
            invoice_id = gateway.invoice_id_for_payment_intent(payment_intent_id)
            payment = record_invoice(invoice_id) if invoice_id else None
    if payment is None:
        raise NotOurs(
            f"Charge {charge_id or '-'} (PaymentIntent {payment_intent_id or '-'}) "
            "is not a payment of ours."
        )
    return payment


# --- Refunds -------------------------------------------------------------------------


def refund_payment(payment: Payment, *, amount: int, request_key: str, requested_by=None) -> Refund:
    """Ask Stripe to give back `amount` of a ledger row (staff action).

    `request_key` identifies this request (the admin form's nonce), so a
    double submission reaches Stripe with the same idempotency key and
    refunds once.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).get(pk=payment.pk)
        pending = (
            payment.refunds.filter(
                status__in=[RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION]
            ).aggregate(total=Sum("amount"))["total"]
            or 0
        )
        available = payment.amount - payment.amount_refunded - pending
        if payment.is_paid_outside_stripe:
            raise RefundRefused("This invoice was paid outside Stripe: refund it the same way.")
        if amount <= 0:
            raise RefundRefused("Enter an amount above zero.")
        if amount > available:
            raise RefundRefused(
                f"At most {Money(available, payment.currency)} can still be refunded."
            )
        try:
            info = gateway.create_refund(
                payment_intent_id=payment.stripe_payment_intent_id,
                charge_id=payment.stripe_charge_id,
                amount=amount,
                metadata={"patronage_payment": str(payment.pk)},
                idempotency_key=f"refund-{request_key}",
            )
        except gateway.GatewayError as exc:
            raise RefundRefused(exc.user_message) from exc
        refund = upsert_refund(payment, info, requested_by=requested_by)
    return refund


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
    for info in gateway.list_refunds(payment.stripe_charge_id):
        upsert_refund(payment, info)


# --- Disputes ------------------------------------------------------------------------


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


# --- The webhook inbox ---------------------------------------------------------------


def receive_event(event: dict) -> tuple[StripeEvent, bool]:
    """Store a verified Stripe event once, by its id, and queue its processing.

    A repeated delivery finds the stored event and changes nothing.
    """
    from payments.tasks import process_stripe_event

    with transaction.atomic():
        stored, created = StripeEvent.objects.get_or_create(
            stripe_id=event["id"],
            defaults={
                "type": event["type"],
                "api_version": event.get("api_version") or "",
                "livemode": bool(event.get("livemode")),
                "stripe_created": gateway.timestamp(event["created"]),
                "payload": event,
            },
        )
        if created:
            transaction.on_commit(lambda: process_stripe_event.delay(stored.pk), robust=True)
    return stored, created


def requeue_event(event: StripeEvent) -> None:
    """Staff asked to process an event again (handlers are idempotent)."""
    from payments.tasks import process_stripe_event

    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event.pk)
        EVENT.advance(event, EventStatus.PENDING)
        event.save(update_fields=["status"])
        transaction.on_commit(lambda: process_stripe_event.delay(event.pk), robust=True)


@dataclass(frozen=True)
class ReconcileResult:
    seen: int
    stored: int
    requeued: int


def reconcile_events(*, since=None, stuck_after_minutes: int = 10) -> ReconcileResult:
    """Fetch Stripe's events since the last one we have, store the missing ones,
    and requeue events left pending (a lost task) for longer than a few minutes.

    Only the types we act on are listed. Stripe keeps events for 30 days: an
    explicit `since` further back is refused (compare the ledger with Stripe's
    charges instead); the automatic start is clamped to what Stripe still has.
    """
    from payments.handlers import HANDLERS

    oldest_listed = timezone.now() - gateway.EVENT_RETENTION
    if since is None:
        latest = StripeEvent.objects.aggregate(latest=Max("stripe_created"))["latest"]
        overlap = timedelta(hours=1)
        since = (latest - overlap) if latest else timezone.now() - timedelta(days=3)
        since = max(since, oldest_listed + timedelta(minutes=1))
    elif since < oldest_listed:
        raise ValueError(
            f"Stripe lists events of the last {gateway.EVENT_RETENTION.days} days only; "
            f"{since:%Y-%m-%d} is further back. Compare the ledger with Stripe's charges instead."
        )
    seen = stored = 0
    for event in gateway.list_events(created_since=since, types=HANDLERS):
        seen += 1
        stored += receive_event(event)[1]
    cutoff = timezone.now() - timedelta(minutes=stuck_after_minutes)
    stuck = list(
        StripeEvent.objects.filter(status=EventStatus.PENDING, received_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    if stuck:
        from payments.tasks import process_stripe_event

        for pk in stuck:
            transaction.on_commit(lambda pk=pk: process_stripe_event.delay(pk), robust=True)
    return ReconcileResult(seen=seen, stored=stored, requeued=len(stuck))
