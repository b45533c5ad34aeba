"""Joining: a membership started on the join page, then its subscription made with the
card the page entered (Stripe.js `createPaymentMethod`) and its first invoice paid with
it; when the bank wants 3-D Secure, the page runs it once, on that invoice's
PaymentIntent. From then on Stripe's events keep it in step (stripe_sync)."""

import contextlib

from django.conf import settings
from django.db import IntegrityError, transaction

from config.errors import Refused
from members.models import OPEN_STATUSES, Membership, User
from members.selectors import level_for
from members.services.card_checks import (
    card_form_closed_message,
    count_membership_failure,
    entered_membership_card,
    put_card,
)
from members.services.stripe_sync import (
    META_MEMBERSHIP,
    apply_subscription,
    lock_membership,
    stripe_now,
)
from members.states import (
    Interval,
    MembershipKind,
    MembershipStatus,
)
from payments import card_testing
from payments import stripe_gateway as gateway
from payments.services import donations, donors
from payments.services.cards import one_card_at_a_time
from payments.services.donations import PayOutcome


def start_membership(
    *,
    user: User | None = None,
    email: str = "",
    amount: int,
    currency: str,
    interval: str,
    attribution: dict | None = None,
    client_ip: str | None = None,
) -> Membership:
    """Record the membership (incomplete), for the card the page sends next
    (`confirm_membership`).

    A reader who comes back before paying starts again on the same record; one
    whose first payment failed gets a new one (the unpaid subscription is canceled).
    Each start has its own DONATION_MAX_CARD_ATTEMPTS failed card checks, counted
    against `client_ip` and the account too (payments/card_testing.py).

    A guest (no `user`) joins with `email`: each start is a new record with no account
    (`user=None`), whoever owns that address; the account comes after the first payment
    (accounts.attach_guest_membership), and an address that already has one is never
    taken over. Their failed card checks count against the address instead.

    Stripe is asked first, with no lock held (the unpaid subscription ended, the
    customer); the membership is then locked (or created), checked again and stored.
    A start overtaken meanwhile (another request changed the same record) is made
    again from what that stored.
    """
    currency = currency.upper()
    donations.check_amount(amount, currency)
    if interval not in Interval.values:
        raise Refused("Choose monthly or yearly.", field="interval")
    if user is None and not email.strip():
        raise Refused("Please enter your email.", field="email")
    email = (user.email if user is not None else email).strip().lower()
    name = user.display_name if user is not None else ""
    for _ in range(3):
        current = (
            Membership.objects.filter(
                user=user, kind=MembershipKind.PAID, status__in=OPEN_STATUSES
            ).first()
            if user is not None
            else None
        )
        if current is not None and current.status != MembershipStatus.INCOMPLETE:
            raise Refused(
                "You are already a member. You can change your amount on your account page."
            )
        if current is not None and current.stripe_subscription_id:
            # Its first payment never went through: that subscription is dropped, we start anew.
            _end_unpaid_subscription(current)
            continue
        # The donor and their Stripe customer, as a gift's start stores them: Stripe is
        # asked first (no transaction open), then the donor is stored with that customer.
        found = donors.find_donor(email)
        customer_id = donors.customer_for(found, email, name=name, user=user)
        membership = current or Membership(
            user=user,
            email=email,
            kind=MembershipKind.PAID,
            status=MembershipStatus.INCOMPLETE,
        )
        try:
            with transaction.atomic():
                # None: another start stored another customer on the donor meanwhile
                donor = donors.store_donor(found, email, customer_id, name=name, user=user)
                if current is not None:
                    membership = lock_membership(current.pk)
                    unchanged = (membership.status, membership.stripe_subscription_id) == (
                        MembershipStatus.INCOMPLETE,
                        current.stripe_subscription_id,
                    )
                else:
                    unchanged = True
                if donor is not None and unchanged:
                    stored = _store_start(
                        membership,
                        donor=donor,
                        amount=amount,
                        currency=currency,
                        interval=interval,
                        attribution=attribution,
                        client_ip=client_ip,
                    )
                    if stored:
                        return membership
        except IntegrityError:
            continue  # the donor's address was stored by another request meanwhile
    raise Refused("Your membership changed while we were saving it. Please try again.")


def _store_start(
    membership: Membership, *, donor, amount, currency, interval, attribution, client_ip
) -> bool:
    """Save a start on its (locked, or new) record; False when another start created the
    account's open membership meanwhile."""
    membership.donor = donor
    membership.amount, membership.currency, membership.interval = amount, currency, interval
    membership.level = level_for(amount, currency, interval)
    for name, value in (attribution or {}).items():
        setattr(membership, name, value)
    membership.card_failures = 0
    membership.client_ip = card_testing.valid_ip(client_ip)
    membership.stripe_setup_intent_id = ""  # joining sets up no card form of its own
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError:  # the one open paid membership of the account
        return False
    return True


def _end_unpaid_subscription(membership: Membership) -> None:
    """Cancel at Stripe the subscription of a membership whose first payment never went
    through (no lock held), then apply the ended subscription under the lock."""
    ended = gateway.cancel_subscription(
        membership.stripe_subscription_id,
        idempotency_key=f"membership-{membership.public_id}-end-{membership.stripe_subscription_id}",
    )
    seen_at = stripe_now()
    with transaction.atomic():
        apply_subscription(lock_membership(membership.pk), ended, as_of=seen_at)


def confirm_membership(membership: Membership, payment_method_id: str = "") -> PayOutcome:
    """Subscribe with the card the reader just entered, or say where the first payment is.

    Safe to call again (after 3-D Secure, with no card, or twice): the subscription is
    created once (idempotency key from the membership), and another card sent after a
    declined first payment pays the same open invoice.

    Stripe is asked with no lock held (each write under a key derived from the
    membership or the card, so two requests at once make the same subscription); the
    membership is then locked and brought in line with what Stripe answered
    (`apply_subscription`: forward only, never older than the state held), and what
    comes next is read from Stripe after the lock is released.
    """
    membership = Membership.objects.select_related("donor").get(pk=membership.pk)
    if membership.status != MembershipStatus.INCOMPLETE:
        if membership.has_perks:
            return PayOutcome("succeeded")
        return PayOutcome("failed", message=card_form_closed_message(membership))
    if payment_method_id:
        with one_card_at_a_time(f"membership-{membership.pk}", payment_method_id):
            return _confirm_membership(membership, payment_method_id)
    return _confirm_membership(membership, "")


def _confirm_membership(membership: Membership, payment_method_id: str) -> PayOutcome:
    subscription = declined_invoice = None
    if membership.stripe_subscription_id:
        subscription = gateway.retrieve_subscription(membership.stripe_subscription_id)
        if payment_method_id:
            declined_invoice = _declined_first_invoice(subscription)
    card = None
    if subscription is None or declined_invoice is not None:
        card = entered_membership_card(membership, payment_method_id)
        try:
            customer_id = _keep_card(membership, card)
        except gateway.CardDeclined as declined:
            return _card_refused(membership, card, declined)
        if subscription is None:
            subscription = _subscribe(membership, customer_id, card.id)
        else:  # the new card pays the same first invoice
            gateway.set_subscription_payment_method(
                subscription_id=subscription.id,
                payment_method_id=card.id,
                idempotency_key=f"membership-{membership.public_id}-card-{card.id}-sub",
            )
            pay_on_session(declined_invoice, card.id)
            subscription = gateway.retrieve_subscription(subscription.id)
    seen_at = stripe_now()
    with transaction.atomic():
        current = lock_membership(membership.pk)
        ours = current.stripe_subscription_id in (None, subscription.id)
        if ours:
            current.stripe_subscription_id = subscription.id
            if card is not None:  # saved with the rest: the subscription's card is known
                put_card(current, card.id, card.card)
            apply_subscription(current, subscription, as_of=seen_at)
    if not ours:
        # Another request stored another subscription meanwhile (the reader changed the
        # amount in a second tab): this one is dropped unless it was paid (then its own
        # events record it, for staff to see), and the page hears where that one stands.
        if subscription.status == "incomplete":
            gateway.cancel_subscription(
                subscription.id,
                idempotency_key=f"membership-{membership.public_id}-end-{subscription.id}",
            )
        return confirm_membership(current)
    if current.has_perks:
        return PayOutcome("succeeded")
    return _first_payment_outcome(current, subscription, card)


def _declined_first_invoice(
    subscription: gateway.SubscriptionInfo,
) -> gateway.InvoiceInfo | None:
    """The first invoice of a subscription not paid yet, if it waits for another card (the
    last one was declined, or its 3-D Secure failed); else None."""
    if subscription.status != "incomplete":
        return None
    invoice = gateway.retrieve_invoice(subscription.latest_invoice_id)
    if invoice.status != "open":
        return None
    intent = gateway.retrieve_payment_intent(invoice.payment_intent_id)
    return invoice if intent.status == "requires_payment_method" else None


def _keep_card(membership: Membership, card: gateway.PaymentMethodInfo) -> str:
    """Put the card on the membership's customer (returned); a member's becomes their
    default. A guest's card pays this membership only (the subscription's own card):
    the customer, who may be a member with a card on file, keeps their default card."""
    customer_id = donors.ensure_stripe_customer(membership.donor)
    keep = (
        gateway.attach_payment_method
        if membership.user_id is None
        else gateway.set_default_payment_method
    )
    keep(
        customer_id=customer_id,
        payment_method_id=card.id,
        idempotency_key=f"membership-{membership.public_id}-card-{card.id}",
    )
    return customer_id


def _card_refused(
    membership: Membership, card: gateway.PaymentMethodInfo, declined: gateway.CardDeclined
) -> PayOutcome:
    """The bank refused the card as Stripe put it on the customer (Stripe checks a card
    it attaches): a failed card check of this join, as a declined first payment is."""
    failure = card_testing.CardFailure(
        key=f"attach:{card.id}", stage="setup", card=card.card_fingerprint
    )
    if count_membership_failure(membership, failure):
        return PayOutcome("failed", message=f"{declined.user_message} {card_testing.START_AGAIN}")
    return PayOutcome("failed", message=declined.user_message, another_card=True)


def _subscribe(
    membership: Membership, customer_id: str, payment_method_id: str
) -> gateway.SubscriptionInfo:
    """The membership's subscription at its amount: created, or found again when an
    earlier attempt reached Stripe but was never stored (a timeout, a rolled-back step).

    A found one that is still unpaid but at another amount (the reader changed it
    since) is canceled and a new one made; one already paid is kept as it is.
    """
    plan_id = gateway.ensure_plan(
        amount=membership.amount,
        currency=membership.currency,
        interval=membership.interval,
        product_name=f"{settings.ORGANIZATION_NAME} membership",
    )
    earlier = gateway.find_subscription(
        customer_id=customer_id, metadata_key=META_MEMBERSHIP, value=str(membership.public_id)
    )
    if earlier is not None and (earlier.plan_id == plan_id or earlier.status != "incomplete"):
        return earlier
    if earlier is not None:
        gateway.cancel_subscription(
            earlier.id, idempotency_key=f"membership-{membership.public_id}-end-{earlier.id}"
        )
    return gateway.create_subscription(
        customer_id=customer_id,
        plan_id=plan_id,
        payment_method_id=payment_method_id,
        metadata={META_MEMBERSHIP: str(membership.public_id)},
        idempotency_key=f"membership-{membership.public_id}-subscribe",
    )


def pay_on_session(invoice: gateway.InvoiceInfo, payment_method_id: str) -> None:
    """Pay an open invoice with the card just entered (already the subscription's card),
    while the member is on the page.

    Stripe answers a decline, and a bank that wants 3-D Secure, with a 402: the
    invoice's PaymentIntent then says which, and the caller reads it from there.
    """
    with contextlib.suppress(gateway.CardDeclined):
        gateway.pay_invoice(
            invoice.id, off_session=False, idempotency_key=f"{invoice.id}-{payment_method_id}"
        )


def _first_payment_outcome(
    membership: Membership,
    subscription: gateway.SubscriptionInfo,
    card: gateway.PaymentMethodInfo | None,
) -> PayOutcome:
    """What the join page does next, from the first invoice's PaymentIntent (read with no
    lock held; the membership is locked only to count a decline). `card`: the one this
    request tried, if any."""
    invoice = gateway.retrieve_invoice(subscription.latest_invoice_id)
    intent = gateway.retrieve_payment_intent(invoice.payment_intent_id)
    if intent.status == "requires_action":
        return PayOutcome("requires_action", client_secret=intent.client_secret)
    if intent.status in ("processing", "succeeded"):
        return PayOutcome("succeeded")
    declined = intent.error_message or gateway.card_message("card_declined")
    failure = card_testing.payment_failure(intent, card=card.card_fingerprint if card else None)
    if count_membership_failure(membership, failure):
        return PayOutcome("failed", message=f"{declined} {card_testing.START_AGAIN}")
    return PayOutcome("failed", message=declined, another_card=True)
