"""Processing Stripe events: idempotent, in any order, failures kept and reprocessable.

A real gift is made through the page and localstripe (no webhook endpoint is
registered, so localstripe delivers nothing). The tests then deliver the
events themselves, in the current API shape (tests.support.stripe_payloads)
with the real PaymentIntent, charge and refund ids, signed as Stripe signs
them; handlers that need more re-read it from localstripe. Every event is
delivered at least twice.
"""

import uuid
from dataclasses import dataclass

import pytest
from django.urls import reverse

from payments import stripe_gateway as gateway
from payments.models import Dispute, Donation, Payment, Receipt, Refund, StripeEvent
from payments.services import inbox, ledger
from payments.states import DisputeStatus, DonationStatus, EventStatus, RefundStatus
from tests.payments.donations import give
from tests.support import stripe_payloads as payloads
from tests.support.processes import free_port, wait_until
from tests.support.webhooks import post_event

DONOR = "donor@example.org"
SETTLED = [EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.FAILED]


@dataclass(frozen=True)
class Gift:
    donation: Donation
    intent: gateway.IntentInfo  # as Stripe (localstripe) has it

    @property
    def charge_id(self) -> str:
        return self.intent.charge_id


@pytest.fixture
def gift(client, tasks, localstripe) -> Gift:
    """A €25 gift paid in localstripe, of which the ledger knows nothing yet."""
    give(client, amount="25", currency="EUR", email=DONOR)
    donation = Donation.objects.get()
    return Gift(donation, gateway.retrieve_payment_intent(donation.stripe_payment_intent_id))


def intent_object(gift: Gift, **fields) -> dict:
    intent = gift.intent
    return payloads.payment_intent(
        **{
            "id": intent.id,
            "amount": intent.amount,
            "currency": intent.currency.lower(),
            "customer": intent.customer_id,
            "latest_charge": intent.charge_id,
            "metadata": intent.metadata,
            **fields,
        }
    )


def charge_object(gift: Gift, **fields) -> dict:
    return payloads.charge(
        id=gift.charge_id,
        payment_intent=gift.intent.id,
        customer=gift.intent.customer_id,
        amount=gift.intent.amount,
        **fields,
    )


def refund_object(gift: Gift, refund: gateway.RefundInfo, **fields) -> dict:
    return payloads.refund(
        **{
            "id": refund.id,
            "amount": refund.amount,
            "charge": gift.charge_id,
            "payment_intent": gift.intent.id,
            "status": refund.status,
            **fields,
        }
    )


def deliver(client, type: str, obj: dict, **fields) -> StripeEvent:
    """Post a signed event and wait until the worker has dealt with it."""
    event = payloads.event(type, obj, **fields)
    response = post_event(client, event)
    assert response.status_code == 200, response.content
    return wait_until(
        lambda: StripeEvent.objects.filter(stripe_id=event["id"], status__in=SETTLED).first()
    )


def deliver_twice(client, type: str, obj: dict, **fields) -> StripeEvent:
    """The same event twice, then the same object under a new event id (a replay)."""
    event = payloads.event(type, obj, **fields)
    assert post_event(client, event).json()["duplicate"] is False
    assert post_event(client, event).json()["duplicate"] is True
    first = wait_until(
        lambda: StripeEvent.objects.filter(stripe_id=event["id"], status__in=SETTLED).first()
    )
    replay = deliver(client, type, obj)
    assert (first.status, replay.status) == (EventStatus.PROCESSED, EventStatus.PROCESSED)
    return first


def mails(mailoutbox, word: str) -> list:
    return [m for m in mailoutbox if DONOR in m.to and word in m.subject.lower()]


def refund_stripe(gift: Gift, amount: int) -> gateway.RefundInfo:
    """A refund made in Stripe (say, from its dashboard): the ledger learns of it by events."""
    return gateway.create_refund(
        payment_intent_id=gift.intent.id,
        amount=amount,
        metadata={},
        idempotency_key=f"test-refund-{uuid.uuid4()}",
    )


# --- payment_intent.succeeded / payment_failed ---------------------------------------


def test_payment_succeeded_delivered_twice_records_one_payment_one_receipt_one_email(
    client, gift, mailoutbox
):
    deliver_twice(client, "payment_intent.succeeded", intent_object(gift))

    payment = Payment.objects.get()
    charge = gateway.retrieve_charge(gift.charge_id)
    assert (payment.amount, payment.currency, payment.amount_refunded) == (2500, "EUR", 0)
    assert (payment.fee, payment.net) == (charge.fee, 2500 - charge.fee)
    assert (payment.stripe_payment_intent_id, payment.stripe_charge_id) == (
        gift.intent.id,
        gift.charge_id,
    )
    assert payment.paid_at == charge.created
    assert payment.donation == gift.donation
    assert payment.donor.email == DONOR
    receipt = wait_until(lambda: Receipt.objects.filter(sent_at__isnull=False).first())
    assert Receipt.objects.count() == 1
    assert receipt.times_sent == 1
    assert len(mails(mailoutbox, "receipt")) == 1
    assert Donation.objects.get().status == DonationStatus.SUCCEEDED


def test_a_late_payment_failed_event_does_not_undo_a_succeeded_gift(client, gift):
    deliver(client, "payment_intent.succeeded", intent_object(gift))

    failed = intent_object(
        gift, status="requires_payment_method", latest_charge=None, error="Card declined."
    )
    deliver_twice(client, "payment_intent.payment_failed", failed)

    donation = Donation.objects.get()
    assert donation.status == DonationStatus.SUCCEEDED
    assert donation.last_error == ""
    assert Payment.objects.get().amount == 2500


# --- Out of order: refunds before the payment ----------------------------------------


@pytest.mark.parametrize("refund_event", ["charge.refunded", "refund.updated"])
def test_a_refund_event_before_the_payment_event_records_the_payment_from_stripe_with_the_refund(
    client, gift, mailoutbox, refund_event
):
    refund = refund_stripe(gift, 1000)
    if refund_event == "charge.refunded":
        obj = charge_object(gift, amount_refunded=1000)
    else:
        obj = refund_object(gift, refund)

    deliver_twice(client, refund_event, obj)

    payment = Payment.objects.get()
    assert (payment.amount, payment.amount_refunded, payment.donation) == (
        2500,
        1000,
        gift.donation,
    )
    (row,) = payment.refunds.all()
    assert (row.stripe_refund_id, row.amount, row.status) == (refund.id, 1000, "succeeded")
    assert Receipt.objects.filter(payment=payment).count() == 1

    later = deliver(client, "payment_intent.succeeded", intent_object(gift))

    assert later.status == EventStatus.PROCESSED
    payment.refresh_from_db()
    assert (Payment.objects.count(), payment.amount, payment.amount_refunded) == (1, 2500, 1000)
    assert Refund.objects.count() == 1
    wait_until(lambda: Refund.objects.filter(notice_sent_at__isnull=False).exists())
    wait_until(lambda: Receipt.objects.filter(sent_at__isnull=False).exists())
    assert len(mails(mailoutbox, "receipt")) == 1
    assert len(mails(mailoutbox, "refund")) == 1


def test_partial_refunds_add_up_and_replayed_refund_events_do_not_inflate_the_total(
    client, gift, mailoutbox
):
    deliver(client, "payment_intent.succeeded", intent_object(gift))
    first = refund_stripe(gift, 500)
    deliver_twice(client, "refund.created", refund_object(gift, first))
    deliver_twice(client, "charge.refunded", charge_object(gift, amount_refunded=500))
    assert Payment.objects.get().amount_refunded == 500

    second = refund_stripe(gift, 700)
    deliver_twice(client, "charge.refunded", charge_object(gift, amount_refunded=1200))
    deliver_twice(client, "refund.updated", refund_object(gift, first))
    deliver_twice(client, "charge.refund.updated", refund_object(gift, second))
    # refund.created said "pending" at the time; arriving last, it must not undo the success.
    deliver_twice(client, "refund.created", refund_object(gift, second, status="pending"))

    payment = Payment.objects.get()
    assert payment.amount_refunded == 1200
    assert sorted(payment.refunds.values_list("amount", "status")) == [
        (500, RefundStatus.SUCCEEDED),
        (700, RefundStatus.SUCCEEDED),
    ]
    wait_until(lambda: not Refund.objects.filter(notice_sent_at__isnull=True).exists())
    notices = mails(mailoutbox, "refund")
    assert len(notices) == 2
    assert sorted("€5.00" in m.body for m in notices) == [False, True]


def test_a_refund_that_fails_after_succeeding_comes_off_the_refunded_total_for_good(client, gift):
    deliver(client, "payment_intent.succeeded", intent_object(gift))
    refund = refund_stripe(gift, 1000)
    deliver(client, "refund.updated", refund_object(gift, refund))
    assert Payment.objects.get().amount_refunded == 1000

    deliver_twice(client, "refund.failed", refund_object(gift, refund, status="failed"))

    assert Payment.objects.get().amount_refunded == 0
    assert Refund.objects.get().status == RefundStatus.FAILED

    deliver(client, "refund.updated", refund_object(gift, refund))  # an older "succeeded"
    deliver(client, "charge.refunded", charge_object(gift, amount_refunded=1000))

    assert Payment.objects.get().amount_refunded == 0
    assert Refund.objects.get().status == RefundStatus.FAILED


# --- Disputes ------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", [DisputeStatus.LOST, DisputeStatus.WON])
def test_a_dispute_is_flagged_while_open_closed_by_stripe_and_never_reopened_by_old_events(
    client, gift, staff_client, outcome
):
    deliver(client, "payment_intent.succeeded", intent_object(gift))
    opened = payloads.now() - 3600
    dispute = payloads.dispute(
        charge=gift.charge_id, payment_intent=gift.intent.id, amount=2500, created=opened
    )

    deliver_twice(client, "charge.dispute.created", dispute, created=opened)

    row = Dispute.objects.get()
    assert (row.stripe_dispute_id, row.amount, row.currency) == (dispute["id"], 2500, "EUR")
    assert (row.status, row.is_open, row.closed_at) == (DisputeStatus.NEEDS_RESPONSE, True, None)
    assert row.opened_at == gateway.timestamp(opened)
    assert row.payment == Payment.objects.get()
    flagged = staff_client.get(reverse("admin:payments_dispute_changelist") + "?open=yes")
    assert reverse("admin:payments_dispute_change", args=[row.pk]) in flagged.content.decode()
    assert ">OPEN<" in flagged.content.decode()

    deliver_twice(client, "charge.dispute.closed", {**dispute, "status": outcome})

    row.refresh_from_db()
    assert (row.status, row.is_open) == (outcome, False)
    closed_at = row.closed_at
    assert closed_at is not None

    deliver(client, "charge.dispute.created", dispute, created=opened)  # a late replay
    deliver(client, "charge.dispute.updated", {**dispute, "status": "under_review"})

    row.refresh_from_db()
    assert (row.status, row.closed_at) == (outcome, closed_at)
    assert Dispute.objects.count() == 1


# --- Failures: recorded, kept, processed again --------------------------------------


def test_a_failing_handler_marks_the_event_failed_and_process_again_in_admin_records_it(
    client, gift, staff_client, mailoutbox, monkeypatch
):
    def ledger_unavailable(_event) -> None:
        raise RuntimeError("ledger unavailable")

    monkeypatch.setitem(inbox._handlers, "payment_intent.succeeded", ledger_unavailable)
    sent = intent_object(gift)

    event = deliver(client, "payment_intent.succeeded", sent)

    assert event.status == EventStatus.FAILED
    assert event.attempts == 1  # the task retries it later (10 s), and reconciliation too
    assert event.last_error == "RuntimeError: ledger unavailable"
    assert event.data_object == sent  # nothing lost
    assert event.processed_at is None
    with pytest.raises(inbox.EventFailed):
        inbox.process_event(event.pk)
    event.refresh_from_db()
    tried = event.attempts
    assert not Payment.objects.exists()

    monkeypatch.undo()  # the cause is fixed
    response = staff_client.post(
        reverse("admin:payments_stripeevent_changelist"),
        {"action": "process_again", "_selected_action": [event.pk]},
    )

    assert response.status_code == 302
    event = wait_until(
        lambda: StripeEvent.objects.filter(pk=event.pk, status=EventStatus.PROCESSED).first()
    )
    assert (event.attempts, event.last_error) == (tried + 1, "")
    assert event.processed_at is not None
    assert Payment.objects.get().amount == 2500
    wait_until(lambda: Receipt.objects.filter(sent_at__isnull=False).exists())
    assert len(mails(mailoutbox, "receipt")) == 1


def test_an_event_that_failed_while_stripe_was_unreachable_records_the_payment_when_requeued(
    client, gift, settings, localstripe, mailoutbox
):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings.STRIPE_MAX_NETWORK_RETRIES = 0

    event = deliver(client, "payment_intent.succeeded", intent_object(gift))

    assert event.status == EventStatus.FAILED
    assert event.last_error.startswith("APIConnectionError")  # the cause, not the reader's words
    assert not Payment.objects.exists()

    settings.STRIPE_API_BASE = localstripe  # Stripe is back
    inbox.requeue_event(event)

    wait_until(lambda: StripeEvent.objects.filter(pk=event.pk, status="processed").exists())
    payment = Payment.objects.get()
    assert (payment.amount, payment.stripe_charge_id) == (2500, gift.charge_id)
    assert payment.fee is not None
    wait_until(lambda: Receipt.objects.filter(sent_at__isnull=False).exists())
    assert len(mails(mailoutbox, "receipt")) == 1


def test_an_event_about_an_object_stripe_does_not_have_is_ignored_with_the_cause(
    client, tasks, localstripe
):
    unknown = payloads.charge(payment_intent=payloads.new_id("pi"), amount_refunded=500)

    event = deliver(client, "charge.refunded", unknown)

    assert event.status == EventStatus.IGNORED
    assert event.ignored_reason.startswith("Stripe has no such object for our account")
    assert "404" in event.ignored_reason
    assert event.data_object == unknown
    assert not Payment.objects.exists()
    assert not Refund.objects.exists()


# --- Events about things that are not ours ----------------------------------------


def not_ours() -> list:
    unknown_gift = {ledger.META_DONATION: str(uuid.uuid4()), ledger.META_KIND: "one_time"}
    return [
        pytest.param(
            "payment_intent.succeeded",
            payloads.payment_intent(metadata=unknown_gift),
            id="payment for an unknown donation",
        ),
        pytest.param(
            "payment_intent.succeeded",
            payloads.payment_intent(metadata={}),
            id="payment without our metadata",
        ),
        pytest.param(
            "payment_intent.payment_failed",
            payloads.payment_intent(status="requires_payment_method", metadata=unknown_gift),
            id="failure of an unknown donation",
        ),
    ]


@pytest.mark.parametrize(("type", "obj"), not_ours())
def test_an_event_about_no_known_donation_is_processed_and_records_nothing(
    client, tasks, settings, type, obj
):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # must not need Stripe
    settings.STRIPE_MAX_NETWORK_RETRIES = 0

    event = deliver_twice(client, type, obj)

    assert (event.status, event.last_error) == (EventStatus.PROCESSED, "")
    assert not Payment.objects.exists()
    assert not Refund.objects.exists()
    assert not Dispute.objects.exists()


@pytest.mark.parametrize(
    ("type", "obj"),
    [
        pytest.param("refund.updated", payloads.refund(), id="refund of an unknown charge"),
        pytest.param("charge.refunded", payloads.charge(), id="refunded unknown charge"),
        pytest.param("charge.dispute.created", payloads.dispute(), id="dispute of unknown charge"),
    ],
)
def test_a_refund_or_dispute_of_a_charge_stripe_does_not_have_is_ignored_with_the_reason(
    client, tasks, localstripe, type, obj
):
    event = deliver(client, type, obj)

    assert event.status == EventStatus.IGNORED
    assert "404" in event.ignored_reason
    assert not Payment.objects.exists()
    assert not Refund.objects.exists()
    assert not Dispute.objects.exists()


def test_a_dispute_that_arrives_before_its_payment_is_kept_with_the_payment(
    client, gift, mailoutbox
):
    dispute = payloads.dispute(charge=gift.charge_id, payment_intent=None, amount=2500)

    event = deliver(client, "charge.dispute.created", dispute)

    assert event.status == EventStatus.PROCESSED, event.last_error
    payment = Payment.objects.get()  # recorded from the charge Stripe has, as its event would
    assert (payment.stripe_charge_id, payment.amount) == (gift.charge_id, 2500)
    assert Dispute.objects.get().payment == payment
    late = deliver(client, "payment_intent.succeeded", intent_object(gift))
    assert late.status == EventStatus.PROCESSED
    assert Payment.objects.count() == 1 and Receipt.objects.count() == 1


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"amount": 1}, id="another amount"),
        pytest.param({"currency": "jpy"}, id="another currency"),
        pytest.param(
            {"latest_charge": payloads.charge(amount=99999, currency="eur")},
            id="a charge of another amount",
        ),
    ],
)
def test_a_signed_event_that_disagrees_with_its_gift_is_not_believed(client, gift, fields):
    event = deliver(client, "payment_intent.succeeded", intent_object(gift, **fields))

    assert event.status == EventStatus.PROCESSED, event.last_error
    payment = Payment.objects.get()  # as Stripe has it, read back
    assert (payment.amount, payment.currency, payment.stripe_charge_id) == (
        2500,
        "EUR",
        gift.charge_id,
    )


@pytest.mark.django_db
def test_a_database_error_around_the_handler_retries_the_event_task(monkeypatch):
    from django.db import OperationalError

    from payments import tasks

    outcomes = [OperationalError("deadlock detected"), EventStatus.PROCESSED]

    def process_event(event_pk: int) -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(inbox, "process_event", process_event)
    retried = []
    monkeypatch.setattr(
        tasks.process_stripe_event,
        "retry",
        lambda exc, countdown: retried.append((type(exc), countdown)) or RuntimeError("retry"),
    )
    with pytest.raises(RuntimeError, match="retry"):
        tasks.process_stripe_event.run(1)

    assert retried == [(OperationalError, 10)]
    assert tasks.process_stripe_event.run(1) == EventStatus.PROCESSED
