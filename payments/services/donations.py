"""One-time donations: from the form, through the card and 3-D Secure, to the money taken."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from config.errors import Refused
from payments import card_testing
from payments import stripe_gateway as gateway
from payments.currencies import fee_cover, get_currency, minimum_amount
from payments.models import Donation
from payments.money import Money
from payments.services.donors import (
    ensure_stripe_customer,
    get_or_create_donor,
    keep_stripe_customer,
    stripe_customer_for,
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
    confirmCardPayment with client_secret) | "failed" (show message; the
    reader may confirm another card with setup_client_secret).
    """

    status: str
    client_secret: str | None = None
    setup_client_secret: str | None = None
    message: str | None = None


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
) -> tuple[Donation, str]:
    """Record the gift and open a Stripe SetupIntent for the card.

    Returns the donation and the SetupIntent's client secret for Stripe.js.
    Raises Refused for an amount out of bounds, GatewayError when
    Stripe refuses or cannot be reached (then nothing is stored). `client_ip`
    is where the reader started from: failed card checks count against it.

    Stripe is asked first (the donor's customer, the SetupIntent, under keys derived
    from the email and the new gift's id), with no transaction open; the donor and
    the gift are then stored in one short transaction, with whatever `stored_with(gift)`
    stores alongside (a gift membership's own record).
    """
    currency = currency.upper()
    check_amount(amount, currency)
    for _ in range(2):
        customer_id = stripe_customer_for(email, name=name, user=user)
        donation = Donation(
            name=name.strip(),
            user=user,
            amount=amount,
            fee_cover=fee_cover(amount, currency) if cover_fees else 0,
            currency=currency,
            kind=kind,
            client_ip=card_testing.valid_ip(client_ip),
            **(attribution or {}),
        )
        setup = _open_setup_intent(donation, customer_id)
        with transaction.atomic():
            donor = get_or_create_donor(email, name=name, user=user)
            keep_stripe_customer(donor, customer_id)
            if donor.stripe_customer_id != customer_id:
                continue  # another start stored the donor's customer first: use that one
            donation.donor = donor
            donation.stripe_setup_intent_id = setup.id
            donation.save()
            if stored_with is not None:
                stored_with(donation)
        return donation, setup.client_secret
    raise gateway.GatewayError(gateway.GENERIC_MESSAGE, detail="Stripe customer changed twice")


def _open_setup_intent(donation: Donation, customer_id: str) -> gateway.SetupIntentInfo:
    return gateway.create_setup_intent(
        customer_id=customer_id,
        metadata={META_DONATION: str(donation.public_id), META_KIND: donation.kind},
        usage="on_session",  # charged at once, while the reader is on the page
        idempotency_key=f"donation-{donation.public_id}-setup-{donation.attempts}",
    )


def _locked(donation: Donation) -> Donation:
    return (
        Donation.objects.select_for_update(of=("self",)).select_related("donor").get(pk=donation.pk)
    )


def pay_donation(public_id) -> PayOutcome:
    """Charge the card the reader just confirmed, or report where the gift stands.

    Safe to call again (after 3-D Secure, or twice by a nervous reader): an
    open PaymentIntent is read back, never duplicated, and each new card
    attempt has its own idempotency key (from its number), so two requests at once
    make the same PaymentIntent.

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
        if intent.status not in ("requires_payment_method", "canceled"):
            return _apply_intent(donation, intent, attempt=donation.attempts)
    if not donation.stripe_setup_intent_id:  # the last card declined; the next not yet open
        if donation.attempts >= settings.DONATION_MAX_CARD_ATTEMPTS:
            raise Refused(card_testing.DONATION_ATTEMPTS_USED_UP)
        raise Refused("Please enter your card details.")
    setup = gateway.retrieve_setup_intent(donation.stripe_setup_intent_id)
    if setup.status != "succeeded" or not setup.payment_method_id:
        raise Refused("Please enter your card details.")
    if card_testing.active_block(card=setup.card_fingerprint):
        raise Refused(card_testing.CARD_BLOCKED)
    if donation.attempts >= settings.DONATION_MAX_CARD_ATTEMPTS:
        raise Refused(card_testing.DONATION_ATTEMPTS_USED_UP)
    attempt = donation.attempts + 1
    try:
        intent = gateway.create_payment_intent(
            amount=donation.amount + donation.fee_cover,
            currency=donation.currency,
            customer_id=ensure_stripe_customer(donation.donor),
            payment_method_id=setup.payment_method_id,
            metadata={META_DONATION: str(donation.public_id), META_KIND: donation.kind},
            idempotency_key=f"donation-{donation.public_id}-attempt-{attempt}",
        )
    except gateway.CardDeclined as declined:
        card = setup.card_fingerprint
        failure = _declined_payment(donation, declined, attempt=attempt, card=card)
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
            message=intent.error_message or "Your card was declined.",
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
    """This card did not work: record why, count the failed card check, and open a fresh
    SetupIntent for another card, unless the gift has used up its attempts (then it is
    closed, and the reader starts again).

    Recorded under the gift's lock; closing the gift and opening the SetupIntent ask
    Stripe after it is released."""
    with transaction.atomic():
        current = _locked(donation)
        if current.status == DonationStatus.SUCCEEDED:
            return PayOutcome("succeeded")
        overtaken = current.attempts > attempt
        if not overtaken:
            if current.attempts < attempt or current.status != DonationStatus.FAILED:
                # The declined card is used up. Until the next card form is stored (after
                # this lock), /pay has no card: a request that read the gift before this
                # never charges the declined card again as a new attempt.
                current.stripe_setup_intent_id = ""
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
        return _offer_another_card(current, attempt=attempt, message=message)
    return PayOutcome("failed", message=f"{message} Please start again.")


def _offer_another_card(donation: Donation, *, attempt: int, message: str) -> PayOutcome:
    """A fresh SetupIntent for the next card (its key names the attempt that failed, so two
    requests at once open the same one), stored if the gift still waits for it."""
    setup = _open_setup_intent(donation, ensure_stripe_customer(donation.donor))
    with transaction.atomic():
        current = _locked(donation)
        waiting = current.status == DonationStatus.FAILED and current.attempts == attempt
        stored = current.stripe_setup_intent_id == setup.id
        if waiting and not stored:
            current.stripe_setup_intent_id = setup.id
            current.save(update_fields=["stripe_setup_intent_id", "updated_at"])
    if waiting or stored:
        return PayOutcome("failed", message=message, setup_client_secret=setup.client_secret)
    # The gift moved on meanwhile (paid, closed, or a newer attempt): no card on this one.
    gateway.cancel_setup_intent(
        setup.id, idempotency_key=f"donation-{donation.public_id}-cancel-{setup.id}"
    )
    if current.status == DonationStatus.ABANDONED:
        return PayOutcome("failed", message=f"{message} {card_testing.START_AGAIN}")
    return pay_donation(donation.public_id)


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
