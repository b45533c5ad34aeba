"""Strong Customer Authentication: when the bank wants 3-D Secure for a membership payment.

A renewal that needs it reaches the member as "confirm your payment" (never as a
decline) with a page that runs the 3-D Secure step; a member paying on the page
(a new card for a past-due membership, a second card at joining) is asked for it
there. localstripe, through the shim, behaves as Stripe does for these cards
(tests/support/localstripe_shim.py); Stripe.js is played by tests.support.stripejs.
"""

import pytest
from django.test import Client
from django.urls import reverse

from members.models import Membership
from members.selectors import has_member_perks
from members.states import MembershipStatus
from payments import stripe_gateway as gateway
from payments.models import Payment, StripeEvent
from payments.states import EventStatus, PaymentKind
from tests.factories import UserFactory
from tests.members.memberships import _stripe, join, refreshed, renew, switch_default_card
from tests.support import stripe_payloads as payloads
from tests.support.processes import wait_until
from tests.support.stripejs import (
    CARD_3DS,
    CARD_DECLINED_ON_CHARGE,
    CARD_OK,
    confirm_card_payment,
    confirm_card_setup,
    create_payment_method,
)
from tests.support.webhooks import post_event

CARD_SET_UP_ONCE = "4000002500003155"  # 3-D Secure unless set up for off-session payments
JOIN = {"amount": "10", "currency": "USD", "interval": "month"}
CONFIRM = reverse("members:confirm_payment")
SETTLE = reverse("members:confirm_payment_settle")
ACTION_REQUIRED = "invoice.payment_action_required"
FAILED = "invoice.payment_failed"


def entered(number: str) -> dict:
    """The join's confirm form with the card entered in the page (createPaymentMethod)."""
    return {"payment_method": create_payment_method(number)}


def member(client, email: str, *, card: str = CARD_OK) -> Membership:
    """A reader who joined for $10 a month (a real localstripe subscription, active)."""
    client.force_login(UserFactory(email=email))
    membership = join(client, card=card, **JOIN)
    assert membership.status == MembershipStatus.ACTIVE
    return membership


def renewal_needing_authentication(membership: Membership) -> dict:
    """The member's bank now asks for 3-D Secure on every payment; Stripe renews."""
    switch_default_card(membership, CARD_3DS)
    invoice = renew(membership)
    assert invoice["status"] == "open"
    assert gateway.retrieve_payment_intent(invoice["payment_intent"]).status == "requires_action"
    return invoice


def deliver(client, event: dict) -> StripeEvent:
    """Post one signed delivery and wait until the worker has processed it."""
    assert post_event(client, event).status_code == 200
    return wait_until(
        lambda: StripeEvent.objects.filter(
            stripe_id=event["id"], status=EventStatus.PROCESSED
        ).first()
    )


def invoice_event(type: str, invoice: dict, *, at: int | None = None) -> dict:
    """A current-shape event about a real invoice (no `payments` list, as webhooks send)."""
    obj = payloads.invoice(
        id=invoice["id"],
        customer=invoice["customer"],
        subscription=invoice["subscription"],
        amount=invoice["amount_due"],
        currency=invoice["currency"],
        status=invoice["status"],
    )
    return payloads.event(type, obj, created=at)


def later(membership: Membership, seconds: int) -> int:
    """A Stripe time `seconds` after the newest state the membership holds."""
    membership.refresh_from_db()
    return int(membership.stripe_synced_at.timestamp()) + seconds


def emails_to(mailoutbox, address: str, words: str) -> list:
    return [m for m in mailoutbox if address in m.to and words in m.subject.lower()]


# --- A renewal that needs 3-D Secure ---------------------------------------------------


def test_a_renewal_the_bank_wants_authenticated_asks_the_member_to_confirm_and_3d_secure_pays_it(
    client, tasks, stripe_webhooks, mailoutbox
):
    user = UserFactory(email="sca@example.org")
    client.force_login(user)
    membership = join(client, **JOIN)
    wait_until(lambda: Payment.objects.count() == 1)

    invoice = renewal_needing_authentication(membership)

    # Stripe (the emulator) sends invoice.payment_action_required and invoice.payment_failed.
    handled = wait_until(
        lambda: (
            StripeEvent.objects.filter(
                type__in=[ACTION_REQUIRED, FAILED], status=EventStatus.PROCESSED
            ).count()
            == 2
        )
    )
    assert handled
    membership = refreshed(membership, status=MembershipStatus.PAST_DUE)
    assert has_member_perks(user)
    (notice,) = wait_until(lambda: emails_to(mailoutbox, "sca@example.org", "confirm"))
    assert "Please confirm your" in notice.subject
    assert CONFIRM in notice.body
    assert "$10.00" in notice.body
    assert emails_to(mailoutbox, "sca@example.org", "did not go through") == []

    page = client.get(CONFIRM).content.decode()
    assert "$10.00" in page
    assert 'id="confirm-form"' in page
    asked = client.post(SETTLE).json()
    assert asked["status"] == "requires_action"
    assert asked["clientSecret"].startswith(invoice["payment_intent"] + "_secret_")
    assert confirm_card_payment(asked["clientSecret"])["status"] == "succeeded"
    done = client.post(SETTLE).json()

    assert done["status"] == "succeeded"
    assert done["doneUrl"] == reverse("members:account")
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    payment = wait_until(lambda: Payment.objects.filter(stripe_invoice_id=invoice["id"]).first())
    assert (payment.kind, payment.amount, payment.currency) == (PaymentKind.MEMBERSHIP, 1000, "USD")
    assert payment.stripe_payment_intent_id == invoice["payment_intent"]
    wait_until(lambda: len(emails_to(mailoutbox, "sca@example.org", "receipt")) == 2)
    assert len(emails_to(mailoutbox, "sca@example.org", "confirm")) == 1
    assert "no payment waiting" in client.get(CONFIRM).content.decode()


@pytest.mark.parametrize("first", [ACTION_REQUIRED, FAILED])
def test_action_required_and_failed_events_for_one_renewal_in_any_order_send_one_confirm_email(
    client, tasks, localstripe, mailoutbox, first
):
    membership = member(client, "asked-once@example.org")
    invoice = renewal_needing_authentication(membership)
    second = FAILED if first == ACTION_REQUIRED else ACTION_REQUIRED
    at = later(membership, 60)

    for type in (first, second, first, second):  # each a new delivery, as Stripe retries
        deliver(client, invoice_event(type, invoice, at=at))

    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PAST_DUE
    assert membership.last_failed_invoice_id == invoice["id"]
    assert has_member_perks(membership.user)
    wait_until(lambda: emails_to(mailoutbox, "asked-once@example.org", "confirm"))
    assert len(emails_to(mailoutbox, "asked-once@example.org", "confirm")) == 1
    assert emails_to(mailoutbox, "asked-once@example.org", "did not go through") == []


def test_events_about_a_renewal_the_member_already_confirmed_change_nothing(
    client, tasks, localstripe, mailoutbox
):
    membership = member(client, "already@example.org")
    invoice = renewal_needing_authentication(membership)
    intent = gateway.retrieve_payment_intent(invoice["payment_intent"])
    assert confirm_card_payment(intent.client_secret)["status"] == "succeeded"
    paid = _stripe("GET", f"invoices/{invoice['id']}")
    assert paid["status"] == "paid"
    at = later(membership, 60)
    deliver(client, invoice_event("invoice.paid", paid, at=at))

    # Stripe's events about the attempt before it, late and repeated.
    for type in (ACTION_REQUIRED, FAILED, ACTION_REQUIRED):
        deliver(client, invoice_event(type, invoice, at=at - 30))

    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert membership.last_failed_invoice_id == ""
    assert Payment.objects.filter(stripe_invoice_id=invoice["id"]).count() == 1
    wait_until(lambda: emails_to(mailoutbox, "already@example.org", "receipt"))
    assert emails_to(mailoutbox, "already@example.org", "confirm") == []
    assert emails_to(mailoutbox, "already@example.org", "did not go through") == []


def test_a_declined_renewal_is_still_told_as_a_payment_that_did_not_go_through(
    client, tasks, localstripe, mailoutbox
):
    membership = member(client, "declined-sca@example.org")
    switch_default_card(membership, CARD_DECLINED_ON_CHARGE)
    invoice = renew(membership)

    deliver(client, invoice_event(FAILED, invoice, at=later(membership, 60)))

    wait_until(lambda: emails_to(mailoutbox, "declined-sca@example.org", "did not go through"))
    assert emails_to(mailoutbox, "declined-sca@example.org", "confirm") == []
    assert "no payment waiting" in client.get(CONFIRM).content.decode()


def test_the_confirm_page_shows_each_member_only_their_own_renewal(client, tasks, localstripe):
    owner = member(client, "owner@example.org")
    invoice = renewal_needing_authentication(owner)
    secret = gateway.retrieve_payment_intent(invoice["payment_intent"]).client_secret
    assert "$10.00" in client.get(CONFIRM).content.decode()

    other = Client()
    other.force_login(UserFactory(email="other@example.org"))
    join(other, amount="7", currency="USD", interval="month")
    page = other.get(CONFIRM).content.decode()
    answer = other.post(SETTLE).json()

    assert "no payment waiting" in page
    assert "$10.00" not in page
    assert invoice["payment_intent"] not in page
    assert (answer["status"], answer["clientSecret"]) == ("succeeded", None)
    assert secret not in str(answer)
    reader = Client()
    reader.force_login(UserFactory(email="not-a-member@example.org"))
    assert reader.get(CONFIRM).status_code == 404
    assert reader.post(SETTLE).status_code == 404
    assert Client().post(SETTLE).status_code == 401
    assert Client().get(CONFIRM)["Location"].startswith(reverse("account_login"))
    assert gateway.retrieve_payment_intent(invoice["payment_intent"]).status == "requires_action"


def test_confirming_a_renewal_needs_the_pages_csrf_token(client, tasks, localstripe):
    membership = member(client, "csrf-sca@example.org")
    renewal_needing_authentication(membership)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(membership.user)

    assert strict.post(SETTLE).status_code == 403
    page = strict.get(CONFIRM)
    token = page.context["csrf_token"]
    answer = strict.post(SETTLE, headers={"X-CSRFToken": str(token)})
    assert answer.json()["status"] == "requires_action"


# --- Paying on the page -------------------------------------------------------------------


def test_a_new_3ds_card_for_a_past_due_membership_asks_for_authentication_then_pays(
    client, tasks, stripe_webhooks, mailoutbox
):
    membership = member(client, "new-card@example.org")
    switch_default_card(membership, CARD_DECLINED_ON_CHARGE)
    invoice = renew(membership)
    assert invoice["status"] == "open"
    post_event(client, invoice_event(FAILED, invoice))
    refreshed(membership, status=MembershipStatus.PAST_DUE)
    started = client.post(reverse("members:card_start")).json()
    assert confirm_card_setup(started["setupClientSecret"], CARD_3DS)["status"] == "succeeded"

    asked = client.post(reverse("members:card_finish")).json()

    assert asked["status"] == "requires_action", asked
    assert confirm_card_payment(asked["clientSecret"])["status"] == "succeeded"
    done = client.post(reverse("members:card_finish")).json()
    assert done["status"] == "succeeded"
    assert done["doneUrl"] == reverse("members:account")
    refreshed(membership, status=MembershipStatus.ACTIVE)
    payment = wait_until(lambda: Payment.objects.filter(stripe_invoice_id=invoice["id"]).first())
    assert (payment.amount, payment.currency) == (1000, "USD")
    assert _stripe("GET", f"invoices/{invoice['id']}")["status"] == "paid"
    again = client.post(reverse("members:card_finish")).json()  # a third time: nothing more
    assert again["status"] == "succeeded"
    assert Payment.objects.filter(stripe_invoice_id=invoice["id"]).count() == 1


def test_a_new_card_declined_for_a_past_due_membership_says_so(client, tasks, localstripe):
    membership = member(client, "declined-again@example.org")
    switch_default_card(membership, CARD_DECLINED_ON_CHARGE)
    invoice = renew(membership)
    deliver(client, invoice_event(FAILED, invoice, at=later(membership, 60)))
    started = client.post(reverse("members:card_start")).json()
    confirm_card_setup(started["setupClientSecret"], CARD_DECLINED_ON_CHARGE)

    answer = client.post(reverse("members:card_finish")).json()

    assert answer["status"] == "failed"
    assert "declined" in answer["error"]
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PAST_DUE


def test_a_join_retried_with_a_3ds_card_after_a_decline_asks_for_authentication_once(
    client, tasks, stripe_webhooks
):
    client.force_login(UserFactory())
    started = client.post(reverse("members:join_start"), JOIN).json()
    declined = client.post(started["confirmUrl"], entered(CARD_DECLINED_ON_CHARGE)).json()
    assert (declined["status"], declined["anotherCard"]) == ("failed", True)

    asked = client.post(started["confirmUrl"], entered(CARD_3DS))

    assert asked.status_code == 200, asked.content
    assert asked.json()["status"] == "requires_action"
    assert confirm_card_payment(asked.json()["clientSecret"])["status"] == "succeeded"
    assert client.post(started["confirmUrl"]).json()["status"] == "succeeded"
    membership = refreshed(Membership.objects.get(), status=MembershipStatus.ACTIVE)
    payment = wait_until(lambda: Payment.objects.filter(donor=membership.donor).first())
    assert (payment.amount, payment.currency) == (1000, "USD")


# --- Cards set up for renewals ------------------------------------------------------------


def test_a_card_form_opened_to_update_the_card_is_set_up_for_payments_while_the_member_is_away(
    client, tasks, localstripe
):
    member(client, "usage@example.org")

    updating = client.post(reverse("members:card_start")).json()

    for_update = updating["setupClientSecret"].split("_secret_")[0]
    assert _stripe("GET", f"setup_intents/{for_update}")["usage"] == "off_session"


def test_a_card_authenticated_at_joining_renews_without_asking_the_member_again(
    client, tasks, stripe_proxy
):
    """The join's one 3-D Secure check, on its first payment (no SetupIntent), sets the
    card up for the renewals Stripe charges while the member is away."""
    client.force_login(UserFactory(email="set-up-once@example.org"))
    started = client.post(reverse("members:join_start"), JOIN).json()
    asked = client.post(started["confirmUrl"], entered(CARD_SET_UP_ONCE)).json()
    assert asked["status"] == "requires_action", asked
    assert confirm_card_payment(asked["clientSecret"])["status"] == "succeeded"
    assert client.post(started["confirmUrl"]).json()["status"] == "succeeded"
    assert stripe_proxy.writes("/v1/setup_intents") == []
    membership = Membership.objects.get()

    invoice = renew(membership)

    assert invoice["status"] == "paid"
    # The same kind of card, never authenticated, is asked again at renewal.
    switch_default_card(membership, CARD_SET_UP_ONCE)
    assert renew(membership)["status"] == "open"
