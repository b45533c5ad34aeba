"""One-time donations: from the form, through the card and 3-D Secure, to the money taken."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from config.db import this_transaction_without_disk_wait
from config.errors import Refused
from payments import card_testing
from payments import stripe_gateway as gateway
from payments.currencies import fee_cover, get_currency, minimum_amount
from payments.models import Donation
from payments.money import Money
from payments.services.cards import entered_card, one_card_at_a_time
from payments.services.donors import (
    customer_for,
    ensure_stripe_customer,
    find_donor,
    store_donor,
)
from payments.services.ledger import META_DONATION, META_KIND
from payments.states import (
    DONATION,
    DonationStatus,
    PaymentKind,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PayOutcome:
    """What a payment page (give, gift, join) does next.

    status: "succeeded" | "processing" | "requires_action" (run Stripe.js
    confirmCardPayment with client_secret: the bank's one check) | "failed" (show
    message; with another_card, the reader may send another card for the same payment,
    else they start again).
    """

    status: str
    client_secret: str | None = None
    message: str | None = None
    another_card: bool = False


def check_amount(amount: int, currency_code: str) -> None:
    currency = get_currency(currency_code)
    if currency is None:
        raise Refused(f"We do not accept {currency_code}.", field="currency")
    minimum = minimum_amount(currency)
    if amount < minimum:
        raise Refused(f"The smallest gift is {Money(minimum, currency.code)}.", field="amount")
    if amount > currency.maximum:
        raise Refused(
            f"The largest gift we take online is {Money(currency.maximum, currency.code)}.",
            field="amount",
        )


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
    stored_with: Callable[[Donation], object] | None = None,
) -> Donation:
    """Record the gift, for the card the page sends next (`pay_donation`).

    Raises Refused for an amount out of bounds, GatewayError when Stripe refuses or
    cannot be reached (then nothing is stored). `client_ip` is where the reader
    started from: failed card checks count against it.

    The donor's Stripe customer is found or made first, with no transaction open (under
    a key derived from the email); the donor and the gift are then stored in one short
    transaction, with whatever `stored_with(gift)` stores alongside (a gift
    membership's own record). A new donor costs one query before Stripe and two INSERTs
    after; a donor read before Stripe and changed meanwhile by another start (stored, or
    given a customer) is read again and the gift stored once.
    """
    currency = currency.upper()
    check_amount(amount, currency)
    email = email.strip().lower()
    gift = {
        "name": name.strip(),
        "user": user,
        "amount": amount,
        "fee_cover": fee_cover(amount, currency) if cover_fees else 0,
        "currency": currency,
        "kind": kind,
        "client_ip": card_testing.valid_ip(client_ip),
        **(attribution or {}),
    }
    for attempt in range(2):
        found = find_donor(email)
        customer_id = customer_for(found, email, name=name, user=user)
        try:
            with transaction.atomic():
                this_transaction_without_disk_wait()  # a start is no money (config/db.py)
                donor = store_donor(found, email, customer_id, name=name, user=user)
                if donor is None:
                    continue  # another start stored the donor's customer first: use that one
                donation = Donation.objects.create(donor=donor, **gift)
                if stored_with is not None:
                    stored_with(donation)
        except IntegrityError:
            if attempt:
                raise  # not a race: something else is wrong
            continue  # the donor was stored (or erased) by another request meanwhile
        return donation
    raise gateway.GatewayError(gateway.GENERIC_MESSAGE, detail="Stripe customer changed twice")


def _locked(donation: Donation) -> Donation:
    return (
        Donation.objects.select_for_update(of=("self",)).select_related("donor").get(pk=donation.pk)
    )


def pay_donation(public_id, payment_method_id: str = "") -> PayOutcome:
    """Charge the card the reader just entered (`payment_method_id`, made by Stripe.js
    `createPaymentMethod` in the page), or report where the gift stands.

    The PaymentIntent is made and confirmed here, so the bank checks the card once:
    when it wants 3-D Secure, the page runs it on this PaymentIntent and asks again
    (with no card: the open PaymentIntent is read back, never duplicated). Each card
    attempt has its own idempotency key (from its number) and one card is charged at a
    time (`cards.one_card_at_a_time`), so two requests at once make one PaymentIntent;
    attempts are bounded per gift.

    Stripe is asked with no lock held, from the gift as read; the gift is then
    locked, its state checked again and the result applied (`_apply_intent`,
    `_fail_attempt`). A result overtaken meanwhile (a newer attempt recorded by
    another request) is not applied: the gift is asked again.
    """
    donation = Donation.objects.select_related("donor").get(public_id=public_id)
    if donation.status == DonationStatus.SUCCEEDED:
        return PayOutcome("succeeded")
    if donation.status == DonationStatus.ABANDONED:
        raise Refused(_closed_message(donation))
    if donation.stripe_payment_intent_id and donation.status != DonationStatus.FAILED:
        intent = gateway.retrieve_payment_intent(donation.stripe_payment_intent_id)
        card_failed = intent.status == "requires_payment_method"  # declined, or 3-D Secure failed
        if intent.status != "canceled" and not (card_failed and payment_method_id):
            return _apply_intent(donation, intent, attempt=donation.attempts)
    if donation.attempts >= settings.DONATION_MAX_CARD_ATTEMPTS:
        raise Refused(card_testing.DONATION_ATTEMPTS_USED_UP)
    card = entered_card(payment_method_id)
    attempt = donation.attempts + 1
    try:
        with one_card_at_a_time(f"donation-{donation.pk}", card.id):
            intent = gateway.create_payment_intent(
                amount=donation.amount + donation.fee_cover,
                currency=donation.currency,
                customer_id=ensure_stripe_customer(donation.donor),
                payment_method_id=card.id,
                metadata={META_DONATION: str(donation.public_id), META_KIND: donation.kind},
                idempotency_key=f"donation-{donation.public_id}-attempt-{attempt}",
            )
    except gateway.CardDeclined as declined:
        failure = _declined_payment(donation, declined, attempt=attempt, card=card.card_fingerprint)
        return _fail_attempt(
            donation,
            attempt=attempt,
            intent_id=declined.payment_intent_id,
            message=declined.user_message,
            failure=failure,
        )
    return _apply_intent(donation, intent, attempt=attempt)


def _closed_message(donation: Donation) -> str:
    if card_testing.closed_for_card_testing(donation):
        return card_testing.DONATION_ATTEMPTS_USED_UP
    return "This gift has expired. Please start again."


def _declined_payment(
    donation: Donation, declined: gateway.CardDeclined, *, attempt: int, card: str | None
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
        key=f"payment:donation-{donation.public_id}-attempt-{attempt}",
        stage="payment",
        card=card,
        payment_intent_id=declined.payment_intent_id,
    )


def _apply_intent(donation: Donation, intent: gateway.IntentInfo, *, attempt: int) -> PayOutcome:
    """Bring the (re-read, locked) gift in line with its PaymentIntent, as Stripe answered
    for card attempt `attempt`, and say what comes next."""
    if intent.status in ("requires_payment_method", "canceled"):
        failure = (
            card_testing.payment_failure(intent)
            if intent.status == "requires_payment_method"
            else None
        )
        return _fail_attempt(
            donation,
            attempt=attempt,
            intent_id=intent.id,
            message=intent.error_message or gateway.card_message("card_declined"),
            failure=failure,
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
    with transaction.atomic():
        current = _locked(donation)
        if current.status == DonationStatus.SUCCEEDED:
            return PayOutcome("succeeded")  # the webhook or another request got there first
        overtaken = current.attempts > attempt
        closed = current.status == DonationStatus.ABANDONED and status != DonationStatus.SUCCEEDED
        if not (overtaken or closed):
            current.attempts = attempt
            current.stripe_payment_intent_id = intent.id
            DONATION.advance(current, status)
            current.last_error = ""
            current.save()
            return outcome
    if overtaken:
        return pay_donation(donation.public_id)
    # Closed meanwhile (card testing, or expired): this attempt confirms nothing either.
    if status == DonationStatus.PROCESSING:
        return outcome  # too late to cancel: the money's own event records it
    gateway.cancel_payment_intent(
        intent.id, idempotency_key=f"donation-{donation.public_id}-cancel-{intent.id}"
    )
    raise Refused(_closed_message(current))


def _fail_attempt(
    donation: Donation,
    *,
    attempt: int,
    intent_id: str | None,
    message: str,
    failure: card_testing.CardFailure | None = None,
) -> PayOutcome:
    """This card did not work: record why and count the failed card check. The reader
    may send another card, unless the gift has used up its attempts (then it is closed,
    and the reader starts again).

    Recorded under the gift's lock; closing the gift asks Stripe after it is released."""
    with transaction.atomic():
        current = _locked(donation)
        if current.status == DonationStatus.SUCCEEDED:
            return PayOutcome("succeeded")
        overtaken = current.attempts > attempt
        if not overtaken:
            current.attempts = attempt
            if intent_id:
                current.stripe_payment_intent_id = intent_id
            DONATION.advance(current, DonationStatus.FAILED)
            current.last_error = message[:500]
            current.save()
            closing = failure is not None and card_testing.record_donation_failure(current, failure)
    if overtaken:
        return pay_donation(donation.public_id)
    if closing and card_testing.close_donation(current, failure):
        return PayOutcome("failed", message=f"{message} {card_testing.START_AGAIN}")
    if current.status == DonationStatus.ABANDONED:
        return PayOutcome("failed", message=f"{message} {card_testing.START_AGAIN}")
    if attempt < settings.DONATION_MAX_CARD_ATTEMPTS:
        return PayOutcome("failed", message=message, another_card=True)
    return PayOutcome("failed", message=f"{message} Please start again.")


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


def donation_card_check_failed(public_id: str, failure: card_testing.CardFailure) -> bool:
    """Stripe declined a card for a gift (at setup, or when paying): counted against the
    gift, where it came from, its email or member, and the card; the gift is closed once
    it has used up its attempts or one of those is blocked. False for a gift we do not
    have (nothing counted)."""
    donation = Donation.objects.filter(public_id=public_id).first()
    if donation is None:
        return False
    card_testing.count_donation_failure(donation, failure)  # locks the gift for the count
    return True
