"""Stripe event handlers in the fast layer: the real inbox, handlers and services on the
test database, with Stripe replaced by `FakeStripe`, which answers the gateway's reads
from objects the test gives it (current-shape payloads, read by the real parsers).

The same behaviours are proved against the emulator and the worker in
tests/payments/test_handlers.py; these run in milliseconds.
"""

import pytest

from members.models import GiftMembership
from members.states import GiftStatus
from payments import stripe_gateway as gateway
from payments.models import Dispute, Payment, Receipt, Refund, StripeEvent
from payments.services import inbox
from payments.services.ledger import META_DONATION, META_KIND
from payments.states import DisputeStatus, DonationStatus, EventStatus, PaymentKind
from tests.factories import DonationFactory, GiftMembershipFactory
from tests.support import stripe_payloads as payloads

pytestmark = pytest.mark.django_db


class FakeStripe:
    """The gateway's reads, answered from objects the test stored (by id)."""

    def __init__(self) -> None:
        self.objects: dict[str, dict] = {}
        self.refunds_of: dict[str, list[dict]] = {}

    def add(self, obj: dict) -> dict:
        self.objects[obj["id"]] = obj
        if obj["object"] == "refund":
            self.refunds_of.setdefault(obj["charge"], []).append(obj)
        return obj

    def _get(self, object_id: str) -> dict:
        if object_id not in self.objects:
            raise gateway.ObjectNotFound("No such object", detail=f"404: {object_id}")
        return self.objects[object_id]

    def retrieve_payment_intent(self, payment_intent_id: str) -> gateway.IntentInfo:
        intent = dict(self._get(payment_intent_id))
        if isinstance(intent.get("latest_charge"), str) and intent["latest_charge"] in self.objects:
            intent["latest_charge"] = self.objects[intent["latest_charge"]]
        return gateway.intent_from_object(intent)

    def retrieve_charge(self, charge_id: str) -> gateway.ChargeInfo:
        return gateway.charge_from_object(self._get(charge_id))

    def list_refunds(self, charge_id: str) -> list[gateway.RefundInfo]:
        return [gateway.refund_from_object(r) for r in self.refunds_of.get(charge_id, [])]

    def invoice_id_for_payment_intent(self, payment_intent_id: str) -> str | None:
        return None


READS = [
    "retrieve_payment_intent",
    "retrieve_charge",
    "list_refunds",
    "invoice_id_for_payment_intent",
]


@pytest.fixture
def stripe(monkeypatch, settings) -> FakeStripe:
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # anything not faked fails at once
    fake = FakeStripe()
    for name in READS:
        monkeypatch.setattr(gateway, name, getattr(fake, name))
    return fake


def deliver(type: str, obj: dict) -> StripeEvent:
    stored, _ = inbox.receive_event(payloads.event(type, obj))
    inbox.process_event(stored.pk)
    stored.refresh_from_db()
    return stored


def paid_intent(stripe: FakeStripe, donation, **fields) -> dict:
    """A succeeded PaymentIntent for the donation, and its charge, known to FakeStripe."""
    intent = payloads.payment_intent(
        amount=donation.amount,
        currency=donation.currency.lower(),
        metadata={META_DONATION: str(donation.public_id), META_KIND: donation.kind},
        **fields,
    )
    stripe.add(
        payloads.charge(
            id=intent["latest_charge"],
            amount=donation.amount,
            currency=donation.currency.lower(),
            payment_intent=intent["id"],
            balance_transaction=payloads.balance_transaction(
                amount=donation.amount, fee=90, currency=donation.currency.lower()
            ),
        )
    )
    return stripe.add(intent)


def test_a_payment_delivered_twice_makes_one_ledger_row_and_one_receipt(stripe):
    donation = DonationFactory()
    intent = paid_intent(stripe, donation)

    first = deliver("payment_intent.succeeded", intent)
    second = deliver("payment_intent.succeeded", intent)

    assert (first.status, second.status) == (EventStatus.PROCESSED, EventStatus.PROCESSED)
    (payment,) = Payment.objects.all()
    assert (payment.amount, payment.currency, payment.kind) == (2500, "EUR", PaymentKind.ONE_TIME)
    assert Receipt.objects.filter(payment=payment).count() == 1
    donation.refresh_from_db()
    assert donation.status == DonationStatus.SUCCEEDED


def test_a_dispute_before_its_payment_records_the_payment_from_stripe_first(stripe):
    donation = DonationFactory()
    intent = paid_intent(stripe, donation)
    dispute = payloads.dispute(charge=intent["latest_charge"], amount=2500)

    event = deliver("charge.dispute.created", dispute)

    assert event.status == EventStatus.PROCESSED
    payment = Payment.objects.get(stripe_charge_id=intent["latest_charge"])
    recorded = Dispute.objects.get(payment=payment)
    assert (recorded.amount, recorded.status) == (2500, DisputeStatus.NEEDS_RESPONSE)


def test_a_refund_before_its_payment_records_both(stripe):
    donation = DonationFactory()
    intent = paid_intent(stripe, donation)
    refund = stripe.add(payloads.refund(charge=intent["latest_charge"], amount=1000))

    assert deliver("refund.created", refund).status == EventStatus.PROCESSED

    payment = Payment.objects.get(stripe_charge_id=intent["latest_charge"])
    assert payment.amount_refunded == 1000
    assert Refund.objects.filter(payment=payment).count() == 1


def test_a_refund_of_a_charge_that_is_not_ours_is_ignored_with_the_reason(stripe):
    stranger = stripe.add(payloads.charge(payment_intent=None))
    refund = stripe.add(payloads.refund(charge=stranger["id"]))

    event = deliver("refund.created", refund)

    assert event.status == EventStatus.IGNORED
    assert "is not a payment of ours" in event.ignored_reason
    assert not Payment.objects.exists()


def test_an_event_type_no_app_handles_is_stored_and_ignored(stripe):
    event = deliver("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"})

    assert event.status == EventStatus.IGNORED
    assert event.ignored_reason == "We do not act on customer.tax_id.created events."


def test_a_failing_handler_leaves_the_event_failed_with_its_cause(stripe, monkeypatch):
    def ledger_down(event) -> None:
        raise RuntimeError("ledger unavailable")

    monkeypatch.setitem(inbox._handlers, "payment_intent.succeeded", ledger_down)
    stored, _ = inbox.receive_event(payloads.event("payment_intent.succeeded", {"id": "pi_1"}))

    with pytest.raises(inbox.EventFailed):
        inbox.process_event(stored.pk)

    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == (EventStatus.FAILED, 1)
    assert "ledger unavailable" in stored.last_error


def unpaid_gift_membership() -> GiftMembership:
    return GiftMembershipFactory(
        status=GiftStatus.AWAITING_PAYMENT,
        sent_at=None,
        donation__status=DonationStatus.AWAITING_CARD,
    )


def test_a_paid_gift_membership_follows_its_payment_through_the_announcement(stripe):
    gift = unpaid_gift_membership()
    intent = paid_intent(stripe, gift.donation)

    deliver("payment_intent.succeeded", intent)

    gift.refresh_from_db()
    assert gift.status in (GiftStatus.PAID, GiftStatus.SENT)
    assert Payment.objects.get().kind == PaymentKind.GIFT


def test_a_declined_gift_membership_shows_as_failed(stripe):
    gift = unpaid_gift_membership()
    declined = payloads.payment_intent(
        status="requires_payment_method",
        amount=gift.donation.amount,
        currency=gift.donation.currency.lower(),
        metadata={META_DONATION: str(gift.donation.public_id), META_KIND: PaymentKind.GIFT},
        error="Your card was declined.",
    )

    deliver("payment_intent.payment_failed", declined)

    assert GiftMembership.objects.get(pk=gift.pk).status == GiftStatus.FAILED
