"""Stripe's membership events arriving late, twice, out of order, at once, or in two shapes.

Memberships are real localstripe subscriptions made through join(); the events
are signed current-shape deliveries (tests.support.stripe_payloads) about those
real objects, posted to the webhook endpoint, so handlers that re-read from
Stripe read the emulator. localstripe's own deliveries are off unless a test
asks for them.
"""

import threading

import pytest
import requests
from django.urls import reverse

from members.models import Membership
from members.selectors import has_member_perks
from members.services import self_service
from members.states import MembershipKind, MembershipStatus
from payments import stripe_gateway as gateway
from payments.models import Payment, Receipt, StripeEvent
from payments.states import EventStatus, PaymentKind
from tests.factories import UserFactory
from tests.members.memberships import _stripe, join, renew, stripe_gives_up, switch_default_card
from tests.support import stripe_payloads as payloads
from tests.support.processes import wait_until
from tests.support.stripejs import CARD_DECLINED_ON_CHARGE, CARD_OK
from tests.support.webhooks import post_event, signed

pytestmark = pytest.mark.usefixtures("localstripe", "tasks")


def member(client, email: str) -> Membership:
    """A reader who joined for $10 a month (a real localstripe subscription, active)."""
    client.force_login(UserFactory(email=email))
    membership = join(client, amount="10", currency="USD", interval="month")
    assert membership.status == MembershipStatus.ACTIVE
    return membership


def deliver(client, event: dict) -> StripeEvent:
    """Post one signed delivery and wait until the worker has handled it."""
    assert post_event(client, event).status_code == 200

    def handled():
        stored = StripeEvent.objects.filter(stripe_id=event["id"]).first()
        return stored if stored and stored.status == EventStatus.PROCESSED else None

    try:
        return wait_until(handled)
    except AssertionError as timed_out:
        stored = StripeEvent.objects.get(stripe_id=event["id"])
        failure = f"{event['type']} ended {stored.status}: {stored.last_error}"
        raise AssertionError(failure) from timed_out


def subscription_event(type: str, membership: Membership, *, at: int, **fields) -> dict:
    """An event about the membership's real subscription, as Stripe would describe it at `at`."""
    values = {
        "amount": 1000,
        "currency": "usd",
        "interval": "month",
        "metadata": {"patronage_membership": str(membership.public_id)},
        **fields,
    }
    obj = payloads.subscription(
        id=membership.stripe_subscription_id,
        customer=membership.donor.stripe_customer_id,
        created=at - 3600,
        **values,
    )
    return payloads.event(type, obj, created=at)


def invoice_event(type: str, invoice: dict, *, at: int | None = None, **fields) -> dict:
    """A current-shape event (no `payments` list, as webhooks send) about a real invoice."""
    obj = payloads.invoice(
        id=invoice["id"],
        customer=invoice["customer"],
        subscription=invoice["subscription"],
        amount=invoice["amount_due"],
        currency=invoice["currency"],
        status=invoice["status"],
        **fields,
    )
    return payloads.event(type, obj, created=at)


def emails_to(mailoutbox, address: str, words: str) -> list:
    return [m for m in mailoutbox if address in m.to and words in m.subject.lower()]


def later(membership: Membership, seconds: int) -> int:
    """A Stripe time `seconds` after the newest state the membership holds."""
    membership.refresh_from_db()
    return int(membership.stripe_synced_at.timestamp()) + seconds


# --- Subscription snapshots out of order ------------------------------------------------


def test_subscription_updated_before_created_ends_in_the_newest_state(client):
    membership = member(client, "order@example.org")
    t = later(membership, 60)
    created = subscription_event(
        "customer.subscription.created", membership, at=t, status="incomplete"
    )
    updated = subscription_event(
        "customer.subscription.updated",
        membership,
        at=t + 30,
        amount=2500,
        cancel_at_period_end=True,
    )

    deliver(client, updated)
    deliver(client, created)

    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert (membership.amount, membership.currency, membership.interval) == (2500, "USD", "month")
    assert membership.cancel_at_period_end
    assert int(membership.stripe_synced_at.timestamp()) == t + 30


def test_an_older_snapshot_delivered_after_a_newer_one_changes_nothing(client):
    membership = member(client, "snapshots@example.org")
    t = later(membership, 60)
    newer = subscription_event(
        "customer.subscription.updated", membership, at=t + 10, amount=2500, interval="year"
    )
    older = subscription_event(
        "customer.subscription.updated",
        membership,
        at=t,
        status="past_due",
        amount=500,
        cancel_at_period_end=True,
    )
    deliver(client, newer)
    membership.refresh_from_db()
    before = {
        f: getattr(membership, f)
        for f in (
            "status",
            "amount",
            "interval",
            "level_id",
            "current_period_end",
            "cancel_at_period_end",
            "stripe_synced_at",
        )
    }

    deliver(client, older)
    deliver(client, older | {"id": payloads.new_id("evt")})  # and again, as a new delivery

    membership.refresh_from_db()
    assert {f: getattr(membership, f) for f in before} == before
    assert (membership.status, membership.amount, membership.interval) == ("active", 2500, "year")


@pytest.mark.parametrize("late_by", [-5, 0], ids=["older", "same-second"])
def test_a_late_active_update_after_deleted_leaves_the_membership_ended(
    client, mailoutbox, late_by
):
    membership = member(client, "ended@example.org")
    stripe_gives_up(membership)  # the real subscription is canceled in Stripe too
    t = later(membership, 60)
    deleted = subscription_event(
        "customer.subscription.deleted", membership, at=t, status="canceled"
    )
    late = subscription_event("customer.subscription.updated", membership, at=t + late_by)

    deliver(client, deleted)
    membership.refresh_from_db()
    ended_at = membership.ended_at
    deliver(client, late)

    membership.refresh_from_db()
    assert membership.status == MembershipStatus.CANCELED
    assert membership.ended_at == ended_at is not None
    assert not has_member_perks(membership.user)
    assert len(wait_until(lambda: emails_to(mailoutbox, "ended@example.org", "ended"))) == 1


# --- Invoices -------------------------------------------------------------------------


def test_invoice_paid_for_a_subscription_not_linked_locally_links_it_and_records_one_row(
    client, mailoutbox
):
    membership = member(client, "unlinked@example.org")
    invoice = renew(membership)
    assert invoice["status"] == "paid"
    subscription_id = membership.stripe_subscription_id
    # Our record lost its subscription id (say its own event never came): only Stripe knows.
    Membership.objects.filter(pk=membership.pk).update(stripe_subscription_id=None)

    event = invoice_event("invoice.paid", invoice, at=later(membership, 60))
    deliver(client, event)
    deliver(client, event | {"id": payloads.new_id("evt")})

    membership.refresh_from_db()
    assert membership.stripe_subscription_id == subscription_id
    assert Membership.objects.count() == 1
    (payment,) = Payment.objects.all()
    assert (payment.kind, payment.amount, payment.currency) == (PaymentKind.MEMBERSHIP, 1000, "USD")
    assert (payment.stripe_invoice_id, payment.donor) == (invoice["id"], membership.donor)
    assert payment.stripe_payment_intent_id == invoice["payment_intent"]
    assert len(wait_until(lambda: emails_to(mailoutbox, "unlinked@example.org", "receipt"))) == 1


def test_invoice_paid_for_a_subscription_made_in_stripe_for_a_known_donor_creates_the_membership(
    client, mailoutbox
):
    first = member(client, "returning@example.org")
    self_service.end_membership_now(first)
    # Staff subscribe the same customer in Stripe's dashboard, to the same $10 plan.
    plan = gateway.plan_id_for(1000, "USD", "month")
    made = _stripe(
        "POST", "subscriptions", customer=first.donor.stripe_customer_id, items=[{"plan": plan}]
    )
    assert made["status"] == "active", made
    invoice = _stripe("GET", f"invoices/{made['latest_invoice']}")
    assert invoice["status"] == "paid"

    deliver(client, invoice_event("invoice.paid", invoice))

    created = Membership.objects.get(stripe_subscription_id=made["id"])
    assert (created.kind, created.status) == (MembershipKind.PAID, MembershipStatus.ACTIVE)
    assert (created.user, created.donor) == (first.user, first.donor)
    assert (created.amount, created.currency, created.interval) == (1000, "USD", "month")
    (payment,) = Payment.objects.filter(stripe_invoice_id=invoice["id"])
    assert (payment.amount, payment.currency, payment.donor) == (1000, "USD", first.donor)
    assert has_member_perks(first.user)


def test_invoice_paid_for_a_second_stripe_subscription_of_a_member_still_reaches_the_ledger(
    client,
):
    first = member(client, "twice@example.org")
    plan = gateway.plan_id_for(1000, "USD", "month")
    made = _stripe(
        "POST", "subscriptions", customer=first.donor.stripe_customer_id, items=[{"plan": plan}]
    )
    invoice = _stripe("GET", f"invoices/{made['latest_invoice']}")
    assert invoice["status"] == "paid"

    deliver(client, invoice_event("invoice.paid", invoice))

    (payment,) = Payment.objects.filter(stripe_invoice_id=invoice["id"])
    assert (payment.amount, payment.donor) == (1000, first.donor)
    second = Membership.objects.get(stripe_subscription_id=made["id"])
    assert (second.user, second.email) == (None, "twice@example.org")  # staff see it apart
    first.refresh_from_db()
    assert first.status == MembershipStatus.ACTIVE


def past_due_with_open_invoice(client, email: str) -> tuple[Membership, dict]:
    """A member whose renewal was declined (past due), then paid it with a new card."""
    membership = member(client, email)
    switch_default_card(membership, CARD_DECLINED_ON_CHARGE)
    invoice = renew(membership)
    assert invoice["status"] == "open"
    deliver(client, invoice_event("invoice.payment_failed", invoice, at=later(membership, 10)))
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PAST_DUE
    return membership, invoice


@pytest.mark.parametrize("same_event", [True, False], ids=["same-event", "five-events"])
def test_invoice_paid_delivered_five_times_at_once_records_one_payment_and_one_receipt(
    client, live_server, mailoutbox, same_event
):
    membership, invoice = past_due_with_open_invoice(client, "rush@example.org")
    switch_default_card(membership, CARD_OK)
    _stripe("POST", f"invoices/{invoice['id']}/pay")
    invoice = _stripe("GET", f"invoices/{invoice['id']}")
    assert invoice["status"] == "paid"
    event = invoice_event("invoice.paid", invoice, at=later(membership, 60))
    events = [event if same_event else event | {"id": payloads.new_id("evt")} for _ in range(5)]
    url = live_server.url + reverse("payments:stripe_webhook")
    start = threading.Barrier(5)
    answers: list[int] = []

    def post(one: dict) -> None:
        body, header = signed(one)
        start.wait()
        answer = requests.post(
            url,
            data=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            timeout=30,
        )
        answers.append(answer.status_code)

    threads = [threading.Thread(target=post, args=(one,)) for one in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [200] * 5
    stored = wait_until(
        lambda: (
            (rows := list(StripeEvent.objects.filter(stripe_id__in=[e["id"] for e in events])))
            and all(row.status == EventStatus.PROCESSED for row in rows)
            and rows
        )
    )
    assert len(stored) == (1 if same_event else 5)
    assert sum(row.attempts for row in stored) == len(stored)
    (payment,) = Payment.objects.filter(stripe_invoice_id=invoice["id"])
    assert (payment.amount, payment.currency) == (1000, "USD")
    assert Receipt.objects.filter(payment=payment).count() == 1
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert int(membership.stripe_synced_at.timestamp()) == event["created"]
    wait_until(lambda: emails_to(mailoutbox, "rush@example.org", "receipt"))
    assert len(emails_to(mailoutbox, "rush@example.org", "receipt")) == 1
    assert len(emails_to(mailoutbox, "rush@example.org", "welcome")) == 1  # at join only


def test_invoice_payment_failed_twice_sends_one_did_not_go_through_email(client, mailoutbox):
    membership, invoice = past_due_with_open_invoice(client, "declined@example.org")

    again = invoice_event("invoice.payment_failed", invoice, at=later(membership, 3600))
    deliver(client, again)
    assert post_event(client, again).json()["duplicate"] is True

    membership.refresh_from_db()
    assert membership.status == MembershipStatus.PAST_DUE
    assert membership.last_failed_invoice_id == invoice["id"]
    assert has_member_perks(membership.user)
    wait_until(lambda: emails_to(mailoutbox, "declined@example.org", "did not go through"))
    assert len(emails_to(mailoutbox, "declined@example.org", "did not go through")) == 1
    assert not Payment.objects.filter(stripe_invoice_id=invoice["id"]).exists()


def test_a_late_payment_failed_for_an_invoice_since_paid_leaves_the_membership_active(
    client, mailoutbox
):
    membership, invoice = past_due_with_open_invoice(client, "late@example.org")
    switch_default_card(membership, CARD_OK)
    _stripe("POST", f"invoices/{invoice['id']}/pay")
    paid = _stripe("GET", f"invoices/{invoice['id']}")
    now = later(membership, 60)
    deliver(client, invoice_event("invoice.paid", paid, at=now))
    mailoutbox.clear()

    # The failed attempt's event, delivered late and stamped the same second as the payment.
    deliver(client, invoice_event("invoice.payment_failed", invoice, at=now))

    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert not emails_to(mailoutbox, "late@example.org", "did not go through")


def localstripe_event(type: str, object_id: str) -> dict:
    """The event localstripe itself made about `object_id` (its old API shape)."""
    found = _stripe("GET", f"events?type={type}&limit=100")["data"]
    (event,) = [e for e in found if e["data"]["object"]["id"] == object_id]
    return event


@pytest.mark.parametrize("old_first", [True, False], ids=["old-first", "current-first"])
def test_old_and_current_shape_events_for_one_invoice_record_one_ledger_row(
    client, mailoutbox, old_first
):
    membership = member(client, "shapes@example.org")
    invoice = renew(membership)
    old = localstripe_event("invoice.payment_succeeded", invoice["id"])
    assert old["api_version"] == "2017-08-15"
    assert old["data"]["object"]["subscription"] == membership.stripe_subscription_id  # top level
    current = invoice_event("invoice.paid", invoice, at=old["created"])

    for event in (old, current) if old_first else (current, old):
        deliver(client, event)

    (payment,) = Payment.objects.filter(stripe_invoice_id=invoice["id"])
    assert (payment.kind, payment.amount, payment.currency) == (PaymentKind.MEMBERSHIP, 1000, "USD")
    assert payment.stripe_payment_intent_id == invoice["payment_intent"]
    assert Payment.objects.count() == 1
    wait_until(lambda: emails_to(mailoutbox, "shapes@example.org", "receipt"))
    assert len(emails_to(mailoutbox, "shapes@example.org", "receipt")) == 1


def test_a_refund_that_arrives_before_its_invoice_is_paid_is_kept_on_the_ledger_row(client):
    membership = member(client, "early-refund@example.org")
    invoice = renew(membership)
    intent = gateway.retrieve_invoice(invoice["id"]).payment_intent_id
    refund = gateway.create_refund(
        payment_intent_id=intent, amount=400, metadata={}, idempotency_key=f"early-{intent}"
    )
    charge = payloads.charge(
        id=refund.charge_id, payment_intent=intent, amount=1000, amount_refunded=400
    )

    deliver(client, payloads.event("charge.refunded", charge))
    deliver(client, invoice_event("invoice.paid", invoice, at=later(membership, 10)))

    payment = Payment.objects.get(stripe_invoice_id=invoice["id"])
    assert (payment.amount, payment.amount_refunded) == (1000, 400)
    assert payment.refunds.get().stripe_refund_id == refund.id


def test_a_dispute_that_arrives_before_its_invoice_is_paid_records_the_renewal_first(client):
    from payments.models import Dispute

    membership = member(client, "early-dispute@example.org")
    invoice = renew(membership)
    info = gateway.retrieve_invoice(invoice["id"])
    charge_id = gateway.retrieve_payment_intent(info.payment_intent_id).charge_id
    dispute = payloads.dispute(
        charge=charge_id, payment_intent=info.payment_intent_id, amount=1000, currency="usd"
    )

    deliver(client, payloads.event("charge.dispute.created", dispute))

    payment = Payment.objects.get(stripe_invoice_id=invoice["id"])  # read back from Stripe
    assert (payment.kind, payment.amount, payment.stripe_charge_id) == (
        "membership",
        1000,
        charge_id,
    )
    assert Dispute.objects.get().payment == payment
    late = deliver(client, invoice_event("invoice.paid", invoice, at=later(membership, 10)))
    assert late.status == EventStatus.PROCESSED
    assert Payment.objects.filter(stripe_invoice_id=invoice["id"]).count() == 1
    assert Receipt.objects.filter(payment=payment).count() == 1
