"""Refunds asked for in admin: a reason from Stripe's list and a note; the ledger changes
only when Stripe's refund event arrives; refunding a gift membership ends it.

Stripe is a fake here (the gateway's create_refund and list_refunds, answering as Stripe
does), and its events go through the real inbox and handlers. The same journey against
the emulator and its webhooks: tests/payments/test_refunds_and_reconciliation.py.
"""

import uuid

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from members.models import GiftMembership, Membership
from members.services import gifts
from members.states import GiftStatus, MembershipKind, MembershipStatus
from payments import signals
from payments import stripe_gateway as gateway
from payments.models import Payment, Refund, StripeEvent
from payments.services import inbox
from payments.states import EventStatus, PaymentKind, RefundStatus
from tests.factories import GiftMembershipFactory, PaymentFactory, UserFactory
from tests.support import stripe_payloads as payloads

pytestmark = pytest.mark.django_db


class FakeRefunds:
    """Stripe's refunds: create_refund answers as Stripe does and remembers what it was
    asked; its events are delivered by the test when it chooses (`confirm`)."""

    def __init__(self) -> None:
        self.asked: list[dict] = []
        self.made: dict[str, dict] = {}  # idempotency key -> refund object
        self.before_answer = None  # called with the refund before Stripe answers

    def create_refund(self, **params) -> gateway.RefundInfo:
        self.asked.append(params)
        key = params["idempotency_key"]
        if key not in self.made:
            self.made[key] = payloads.refund(
                amount=params["amount"],
                currency="eur",
                charge=params["charge_id"],
                payment_intent=params["payment_intent_id"],
                reason=params["reason"] or None,
                metadata=params["metadata"],
            )
            if self.before_answer:
                self.before_answer(self.made[key])
        return gateway.refund_from_object(self.made[key])

    def list_refunds(self, charge_id: str) -> list[gateway.RefundInfo]:
        return [
            gateway.refund_from_object(obj)
            for obj in self.made.values()
            if obj["charge"] == charge_id
        ]


@pytest.fixture
def stripe(monkeypatch, settings) -> FakeRefunds:
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # anything not faked fails at once
    fake = FakeRefunds()
    monkeypatch.setattr(gateway, "create_refund", fake.create_refund)
    monkeypatch.setattr(gateway, "list_refunds", fake.list_refunds)
    return fake


def deliver(type: str, obj: dict) -> StripeEvent:
    stored, _ = inbox.receive_event(payloads.event(type, obj))
    inbox.process_event(stored.pk)
    stored.refresh_from_db()
    assert stored.status == EventStatus.PROCESSED, stored.last_error or stored.ignored_reason
    return stored


def confirm(stripe: FakeRefunds, *, type: str = "refund.updated", status: str = "succeeded"):
    """Stripe's event for each refund made: succeeded (or as told)."""
    for obj in stripe.made.values():
        obj["status"] = status
        if type == "charge.refunded":
            deliver(type, payloads.charge(id=obj["charge"], amount_refunded=obj["amount"]))
        else:
            deliver(type, obj)


def refund_page(payment: Payment) -> str:
    return reverse("admin:payments_payment_refund", args=[payment.pk])


def post_refund(staff_client, payment: Payment, amount: str, **fields):
    data = {
        "amount": amount,
        "reason": "requested_by_customer",
        "note": "",
        "request_key": str(uuid.uuid4()),
        **fields,
    }
    return staff_client.post(refund_page(payment), data)


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def refunded(payment: Payment) -> int:
    return Payment.objects.get(pk=payment.pk).amount_refunded


# --- The ledger waits for Stripe's event -------------------------------------------------


def test_a_refund_asked_in_admin_is_pending_until_stripes_event_moves_the_ledger(
    staff_client, stripe
):
    payment = PaymentFactory(amount=2500, currency="EUR")

    response = post_refund(
        staff_client, payment, "15", reason="duplicate", note="Paid twice by mistake"
    )

    assert response.status_code == 302
    assert said(response) == [
        "Refund of €15.00 asked of Stripe; the ledger shows it when Stripe confirms it."
    ]
    (asked,) = stripe.asked
    assert (asked["amount"], asked["reason"]) == (1500, "duplicate")
    assert asked["idempotency_key"].startswith("refund-")
    (refund,) = Refund.objects.all()
    assert (refund.amount, refund.status, refund.reason) == (
        1500,
        RefundStatus.PENDING,
        "duplicate",
    )
    assert refund.note == "Paid twice by mistake"
    assert refund.requested_by.is_superuser
    assert refunded(payment) == 0  # Stripe already said "succeeded": the event decides

    confirm(stripe)
    confirm(stripe)  # delivered twice: changes nothing more

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert (refund.note, refund.reason) == ("Paid twice by mistake", "duplicate")  # kept
    assert refund.requested_by is not None
    assert refunded(payment) == 1500


def test_charge_refunded_moves_the_ledger_too(staff_client, stripe):
    payment = PaymentFactory(amount=2500)
    post_refund(staff_client, payment, "25")

    confirm(stripe, type="charge.refunded")

    assert refunded(payment) == 2500
    assert Refund.objects.get().status == RefundStatus.SUCCEEDED


def test_a_pending_refund_counts_against_what_can_still_be_refunded(staff_client, stripe):
    payment = PaymentFactory(amount=2500)
    post_refund(staff_client, payment, "20")

    page = staff_client.get(refund_page(payment)).content.decode()
    too_much = post_refund(staff_client, payment, "6")

    assert "not confirmed yet: €20.00" in page
    assert 'value="5.00"' in page  # offered: what is left
    assert too_much.status_code == 200
    assert "At most €5.00 can still be refunded" in too_much.content.decode()
    assert Refund.objects.count() == 1


def test_a_refund_form_sent_twice_asks_stripe_with_one_key_and_records_one_refund(
    staff_client, stripe
):
    payment = PaymentFactory()
    key = str(uuid.uuid4())

    post_refund(staff_client, payment, "5", request_key=key)
    post_refund(staff_client, payment, "5", request_key=key)

    assert len({asked["idempotency_key"] for asked in stripe.asked}) == 1
    assert Refund.objects.count() == 1


def test_an_event_that_arrives_before_stripes_answer_keeps_staffs_note_and_name(
    staff_client, stripe
):
    payment = PaymentFactory(amount=2500)
    stripe.before_answer = lambda obj: deliver("refund.created", obj)  # the webhook wins

    post_refund(staff_client, payment, "10", note="Asked by phone", reason="fraudulent")

    (refund,) = Refund.objects.all()
    assert refund.status == RefundStatus.SUCCEEDED  # not moved back to pending
    assert (refund.note, refund.reason) == ("Asked by phone", "fraudulent")
    assert refund.requested_by is not None
    assert refunded(payment) == 1000


def test_a_refund_stripe_fails_at_once_is_said_and_never_counted(staff_client, stripe):
    payment = PaymentFactory(amount=2500)
    stripe.before_answer = lambda obj: obj.update(status="failed")

    response = post_refund(staff_client, payment, "10")

    assert said(response) == ["Stripe did not make the refund of €10.00 (status: failed)."]
    assert Refund.objects.get().status == RefundStatus.FAILED
    assert refunded(payment) == 0


@pytest.mark.parametrize("reason", ["", "expired_uncaptured_charge", "because"])
def test_the_reason_is_one_of_stripes(staff_client, stripe, reason):
    payment = PaymentFactory()

    response = post_refund(staff_client, payment, "5", reason=reason)

    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert stripe.asked == []


def test_the_form_offers_stripes_three_reasons_and_a_note(staff_client, stripe):
    page = staff_client.get(refund_page(PaymentFactory())).content.decode()

    for value in ("requested_by_customer", "duplicate", "fraudulent"):
        assert f'value="{value}"' in page
    assert 'name="note"' in page
    assert 'name="end_gift"' not in page  # not a gift


# --- Gift memberships refunded -------------------------------------------------------------


def claimed_gift(amount: int = 3000) -> tuple[GiftMembership, Payment, Membership]:
    gift = GiftMembershipFactory(donation__amount=amount)
    recipient = UserFactory(email="friend@example.org")
    gifts.claim_gift(gift.claim_token, recipient)
    gift.refresh_from_db()
    payment = PaymentFactory(
        kind=PaymentKind.GIFT, donation=gift.donation, amount=amount, donor=gift.donation.donor
    )
    return gift, payment, gift.membership


def test_a_full_refund_of_a_claimed_gift_ends_the_gift_and_its_membership(staff_client, stripe):
    gift, payment, membership = claimed_gift()
    page = staff_client.get(refund_page(payment)).content.decode()
    assert "Refunding all of it ends the gift" in page

    post_refund(staff_client, payment, "30")
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE  # until Stripe confirms

    confirm(stripe)
    confirm(stripe)  # twice: nothing more

    gift.refresh_from_db()
    membership.refresh_from_db()
    assert gift.status == GiftStatus.REFUNDED
    assert membership.status == MembershipStatus.CANCELED
    assert membership.ended_at is not None
    assert Refund.objects.get().ends_membership is True


def test_a_partial_gift_refund_asks_whether_the_gift_ends(staff_client, stripe):
    _, payment, _ = claimed_gift()

    response = post_refund(staff_client, payment, "10")

    assert response.status_code == 200
    assert "choose whether the gift membership ends" in response.content.decode()
    assert 'name="end_gift"' in response.content.decode()
    assert stripe.asked == []


def test_a_partial_gift_refund_staff_chose_to_end_ends_it(staff_client, stripe):
    gift, payment, membership = claimed_gift()

    post_refund(staff_client, payment, "10", end_gift="yes")
    confirm(stripe)

    gift.refresh_from_db()
    membership.refresh_from_db()
    assert (gift.status, membership.status) == (GiftStatus.REFUNDED, MembershipStatus.CANCELED)
    assert refunded(payment) == 1000


def test_a_partial_gift_refund_staff_chose_to_keep_leaves_the_gift(staff_client, stripe):
    gift, payment, membership = claimed_gift()

    post_refund(staff_client, payment, "10", end_gift="no")
    confirm(stripe)

    gift.refresh_from_db()
    membership.refresh_from_db()
    assert (gift.status, membership.status) == (GiftStatus.CLAIMED, MembershipStatus.ACTIVE)
    assert refunded(payment) == 1000


def test_partial_refunds_that_add_up_to_all_of_it_end_the_gift(staff_client, stripe):
    gift, payment, _membership = claimed_gift()

    post_refund(staff_client, payment, "10", end_gift="no")
    post_refund(staff_client, payment, "20")  # the rest: a full refund, whatever was chosen
    confirm(stripe)

    gift.refresh_from_db()
    assert gift.status == GiftStatus.REFUNDED


def test_a_gift_refunded_before_it_is_claimed_can_no_longer_be_claimed(staff_client, stripe):
    gift = GiftMembershipFactory(donation__amount=3000)  # sent, not claimed
    payment = PaymentFactory(
        kind=PaymentKind.GIFT, donation=gift.donation, amount=3000, donor=gift.donation.donor
    )

    post_refund(staff_client, payment, "30")
    confirm(stripe)

    gift.refresh_from_db()
    assert gift.status == GiftStatus.REFUNDED
    assert gift.membership is None
    with pytest.raises(gifts.Refused, match="refunded"):
        gifts.claim_gift(gift.claim_token, UserFactory())
    assert not Membership.objects.filter(kind=MembershipKind.GIFT).exists()


def test_a_refund_that_fails_leaves_the_gift(staff_client, stripe):
    gift, payment, _membership = claimed_gift()

    post_refund(staff_client, payment, "30")
    confirm(stripe, type="refund.failed", status="failed")

    gift.refresh_from_db()
    assert gift.status == GiftStatus.CLAIMED
    assert refunded(payment) == 0


def test_a_refund_made_in_stripes_dashboard_ends_a_gift_when_it_is_all_of_it(stripe):
    gift, payment, membership = claimed_gift()
    obj = payloads.refund(amount=3000, charge=payment.stripe_charge_id)

    deliver("refund.created", obj)

    gift.refresh_from_db()
    membership.refresh_from_db()
    assert (gift.status, membership.status) == (GiftStatus.REFUNDED, MembershipStatus.CANCELED)


def test_payments_announces_each_succeeded_refund_with_its_payment(stripe):
    heard = []

    def listener(sender, payment, refund, **kwargs):
        heard.append((payment.pk, refund.stripe_refund_id, payment.amount_refunded))

    signals.payment_refunded.connect(listener)
    try:
        payment = PaymentFactory(amount=2500)
        obj = payloads.refund(amount=1000, charge=payment.stripe_charge_id, status="pending")
        deliver("refund.created", obj)
        assert heard == []  # not succeeded yet
        obj["status"] = "succeeded"
        deliver("refund.updated", obj)
    finally:
        signals.payment_refunded.disconnect(listener)

    assert heard == [(payment.pk, obj["id"], 1000)]


def test_ending_a_refunded_gift_again_changes_nothing(db):
    _gift, payment, membership = claimed_gift()
    gifts.end_refunded_gift(payment.donation_id)
    membership.refresh_from_db()
    ended_at = membership.ended_at

    gifts.end_refunded_gift(payment.donation_id)

    membership.refresh_from_db()
    assert membership.ended_at == ended_at <= timezone.now()
