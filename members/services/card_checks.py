"""The cards of the join and card-update forms: each join, and each card form opened to
update a card, has a bounded number of failed card checks (card testing, see
payments/card_testing.py); the card a membership is charged to is remembered as its
member is shown it."""

from django.conf import settings
from django.db import transaction

from config.errors import Refused
from members.models import Membership
from members.services.stripe_sync import apply_subscription, lock_membership, stripe_now
from members.states import (
    MembershipKind,
    MembershipStatus,
)
from payments import card_testing
from payments import stripe_gateway as gateway
from payments.services.cards import entered_card

CARD_ATTEMPTS_USED_UP = "Too many card attempts. Please start again."


def remember_card(
    membership: Membership, payment_method_id: str, card: gateway.CardInfo | None
) -> None:
    """The card renewals now go to, for the account page ("Visa ending 4242")."""
    _store_card(Membership.objects.filter(pk=membership.pk), payment_method_id, card)


def put_card(membership: Membership, payment_method_id: str, card: gateway.CardInfo | None) -> None:
    """The same, on a membership about to be saved (a locked one, say)."""
    if card is not None:
        for name, value in _card_fields(payment_method_id, card).items():
            setattr(membership, name, value)


def follow_card(membership_pk: int) -> None:
    """Remember the card the membership's subscription is charged to now, as Stripe says
    (another was put on it outside this site: in Stripe's dashboard, say). Read from
    Stripe, so an event late or out of order never brings back an older card; stored only
    if no other card was remembered meanwhile (the member's own update wins)."""
    membership = Membership.objects.filter(pk=membership_pk).first()
    if membership is None or not membership.stripe_subscription_id:
        return
    known = membership.card_payment_method_id
    method_id = gateway.retrieve_subscription(
        membership.stripe_subscription_id
    ).default_payment_method_id
    if method_id and method_id != known:
        _store_card(
            Membership.objects.filter(pk=membership_pk, card_payment_method_id=known),
            method_id,
            gateway.retrieve_payment_method(method_id).card,
        )


def _store_card(memberships, payment_method_id: str, card: gateway.CardInfo | None) -> None:
    if card is not None:
        memberships.update(**_card_fields(payment_method_id, card))


def _card_fields(payment_method_id: str, card: gateway.CardInfo) -> dict[str, str]:
    return {
        "card_brand": card.brand[:20],
        "card_last4": card.last4[-4:],
        "card_payment_method_id": payment_method_id,
    }


def card_form_closed_message(membership: Membership) -> str | None:
    if membership.card_failures >= settings.DONATION_MAX_CARD_ATTEMPTS:
        return CARD_ATTEMPTS_USED_UP
    return None


def confirmed_card(membership: Membership) -> gateway.SetupIntentInfo:
    """The card the member confirmed on the form's SetupIntent, if it may be used: the
    form has attempts left, the card was confirmed, and it is not blocked."""
    if membership.card_failures >= settings.DONATION_MAX_CARD_ATTEMPTS:
        raise Refused(CARD_ATTEMPTS_USED_UP)
    setup = gateway.retrieve_setup_intent(membership.stripe_setup_intent_id)
    if setup.status != "succeeded" or not setup.payment_method_id:
        raise Refused("Please enter your card details.")
    if card_testing.active_block(card=setup.card_fingerprint):
        raise Refused(card_testing.CARD_BLOCKED)
    return setup


def entered_membership_card(
    membership: Membership, payment_method_id: str
) -> gateway.PaymentMethodInfo:
    """The card the page entered for a membership's first payment, if it may be tried:
    the join has attempts left, and the card is known and not blocked."""
    if membership.card_failures >= settings.DONATION_MAX_CARD_ATTEMPTS:
        raise Refused(CARD_ATTEMPTS_USED_UP)
    return entered_card(payment_method_id)


def membership_starter(membership: Membership) -> card_testing.Starter:
    """A membership's card form is opened by its signed-in member: their account counts."""
    return card_testing.Starter(
        label=f"membership {membership.public_id}",
        ip=membership.client_ip,
        email="" if membership.user_id else membership.email,
        user_id=membership.user_id,
    )


def count_membership_failure(membership: Membership, failure: card_testing.CardFailure) -> bool:
    """Count a failed card check of a membership's open card form (joining, or updating
    the card); close that form once it has used up its attempts or a source of it is
    blocked. Says whether it was closed.

    Closing cancels the form's SetupIntents at Stripe, and the unpaid subscription of a
    membership that never started (its first invoice's PaymentIntent can then be
    confirmed no more). A live membership is never ended for this: only its card form.

    Call it with no transaction open: the membership is locked only to count; closing
    asks Stripe after that lock is released, then locks it again to apply the answer.
    """
    with transaction.atomic():
        current = lock_membership(membership.pk)
        closing = _record_membership_failure(current, failure)
    if closing:
        _close_card_form(current, failure)
    return closing


def _record_membership_failure(membership: Membership, failure: card_testing.CardFailure) -> bool:
    """Count the failure on the (locked) membership; say whether its card form must close."""
    starter = membership_starter(membership)
    if card_testing.record_failure(failure, starter):
        membership.card_failures += 1
        membership.save(update_fields=["card_failures", "updated_at"])
    used_up = membership.card_failures >= settings.DONATION_MAX_CARD_ATTEMPTS
    blocked = card_testing.active_block(
        ip=starter.ip, email=starter.email, user_id=starter.user_id, card=failure.card
    )
    if not (used_up or blocked):
        return False
    if not used_up:  # blocked: no card may be tried on this form any more
        membership.card_failures = settings.DONATION_MAX_CARD_ATTEMPTS
        membership.save(update_fields=["card_failures", "updated_at"])
    return True


def _close_card_form(membership: Membership, failure: card_testing.CardFailure) -> None:
    """Cancel the closed form's SetupIntents (and the subscription of a membership that
    never started) at Stripe, with no lock held; then apply the ended subscription."""
    prefix = f"membership-{membership.public_id}-cancel"
    setup_ids = {membership.stripe_setup_intent_id, failure.setup_intent_id} - {"", None}
    for setup_id in sorted(setup_ids):
        gateway.cancel_setup_intent(setup_id, idempotency_key=f"{prefix}-{setup_id}")
    if membership.status == MembershipStatus.INCOMPLETE and membership.stripe_subscription_id:
        ended = gateway.cancel_subscription(
            membership.stripe_subscription_id,
            idempotency_key=f"membership-{membership.public_id}-end-"
            f"{membership.stripe_subscription_id}",
        )
        seen_at = stripe_now()
        with transaction.atomic():
            apply_subscription(lock_membership(membership.pk), ended, as_of=seen_at)


def membership_card_check_failed(public_id: str, failure: card_testing.CardFailure) -> bool:
    """Stripe declined a card on a membership's card form (its SetupIntent, confirmed
    directly with Stripe): counted as in `count_membership_failure`. False for a
    membership we do not have (nothing counted)."""
    membership = Membership.objects.filter(public_id=public_id).first()
    if membership is None:
        return False
    count_membership_failure(membership, failure)
    return True


def count_first_payment_failure(invoice: gateway.InvoiceInfo) -> None:
    """A first membership invoice declined (a card tried on its PaymentIntent, on our join
    page or directly with Stripe through the client secret handed out for 3-D Secure):
    a failed card check of that join. A renewal that fails is not a card check (the
    member's bank said no, off session): not counted.

    Events come in any order: the join is known by the invoice's billing reason, or
    (where that is missing) by a membership that never started. Stripe is read with no
    lock held; `count_membership_failure` locks the membership to count.
    """
    if not invoice.subscription_id:
        return
    membership = Membership.objects.filter(
        stripe_subscription_id=invoice.subscription_id, kind=MembershipKind.PAID
    ).first()
    joining = invoice.billing_reason == "subscription_create" or (
        not invoice.billing_reason and membership and membership.welcomed_at is None
    )
    if membership is None or not joining:
        return
    current = gateway.retrieve_invoice(invoice.id)  # events leave out its PaymentIntent
    if not current.payment_intent_id:
        return
    intent = gateway.retrieve_payment_intent(current.payment_intent_id)
    if intent.status == "requires_payment_method" and intent.error_code:
        count_membership_failure(membership, card_testing.payment_failure(intent))
