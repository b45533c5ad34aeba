"""Stripe's fee may settle after the payment: the ledger learns it from `charge.updated`.

On current API versions a charge can succeed before its balance transaction
exists (asynchronous capture), so `payment_intent.succeeded` may bring no fee.
The localstripe shim emulates that (tests.support.settlement holds the fee
back), and sends `charge.updated` once the balance transaction is there, with
its id, as Stripe does; its signed webhooks reach a live server.
"""

from payments import stripe_gateway as gateway
from payments.models import Payment, StripeEvent
from payments.states import EventStatus
from tests.payments.donations import give, recorded_payment
from tests.support import stripe_payloads as payloads
from tests.support.processes import wait_until
from tests.support.settlement import charges_settle_later
from tests.support.webhooks import post_event

SETTLED = [EventStatus.PROCESSED, EventStatus.IGNORED]


def handled(event_id: str) -> StripeEvent:
    return wait_until(
        lambda: StripeEvent.objects.filter(stripe_id=event_id, status__in=SETTLED).first()
    )


def test_a_fee_unknown_when_the_gift_is_recorded_is_filled_in_by_charge_updated(
    client, tasks, stripe_webhooks, localstripe
):
    with charges_settle_later(localstripe):
        give(client, amount="25", currency="EUR", email="fee-later@example.org")
        payment = recorded_payment()
        assert (payment.amount, payment.fee, payment.net) == (2500, None, None)
        assert gateway.retrieve_charge(payment.stripe_charge_id).fee is None

    # Stripe settles the charge and says so with charge.updated.
    update = wait_until(lambda: StripeEvent.objects.filter(type="charge.updated").first())
    assert isinstance(update.data_object["balance_transaction"], str)  # an id, as Stripe sends
    payment = wait_until(lambda: Payment.objects.filter(pk=payment.pk, fee__isnull=False).first())
    charge = gateway.retrieve_charge(payment.stripe_charge_id)
    assert (payment.fee, payment.net) == (charge.fee, 2500 - charge.fee)
    assert handled(update.stripe_id).status == EventStatus.PROCESSED


def test_a_repeated_charge_updated_changes_nothing(client, tasks, stripe_webhooks, localstripe):
    give(client, amount="25", currency="EUR", email="fee-twice@example.org")
    payment = recorded_payment()
    update = wait_until(
        lambda: StripeEvent.objects.filter(type="charge.updated", status__in=SETTLED).first()
    )
    before = Payment.objects.filter(pk=payment.pk).values().get()
    assert before["fee"] is not None

    assert post_event(client, update.payload).json()["duplicate"] is True
    # Another delivery about the same charge, even one claiming another fee, changes nothing.
    other_fee = payloads.charge(
        id=payment.stripe_charge_id,
        amount=2500,
        payment_intent=payment.stripe_payment_intent_id,
        balance_transaction=payloads.balance_transaction(amount=2500, fee=999),
    )
    again = payloads.event("charge.updated", other_fee)
    assert post_event(client, again).status_code == 200
    handled(again["id"])

    assert Payment.objects.filter(pk=payment.pk).values().get() == before
    assert Payment.objects.count() == 1
