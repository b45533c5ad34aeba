"""Journey 6 (staff refund from admin) and a missed webhook recovered by reconciliation."""

import uuid

from django.core.management import call_command
from django.urls import reverse

from payments import stripe_gateway
from payments.models import Payment, Refund, StripeEvent
from payments.states import RefundStatus
from tests.payments.gifts import give, recorded_payment
from tests.support.processes import wait_until


def refund_from_admin(client, payment: Payment, amount: str, request_key: str | None = None):
    return client.post(
        reverse("admin:payments_payment_refund", args=[payment.pk]),
        {"amount": amount, "request_key": request_key or str(uuid.uuid4())},
    )


def notices_to(mailoutbox, address: str) -> list:
    return [m for m in mailoutbox if address in m.to and "refund" in m.subject.lower()]


def test_staff_partial_then_full_refund_reaches_stripe_the_ledger_and_the_donor(
    client, staff_client, tasks, stripe_webhooks, mailoutbox
):
    give(client, amount="25", currency="EUR", email="donor@example.org")
    payment = recorded_payment()

    page = staff_client.get(reverse("admin:payments_payment_refund", args=[payment.pk]))
    assert page.status_code == 200
    assert "€25.00" in page.content.decode()

    response = refund_from_admin(staff_client, payment, "10")
    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.amount_refunded == 1000
    (refund,) = payment.refunds.all()
    assert (refund.amount, refund.status) == (1000, RefundStatus.SUCCEEDED)
    (notice,) = wait_until(lambda: notices_to(mailoutbox, "donor@example.org"))
    assert "€10.00" in notice.body

    refund_from_admin(staff_client, payment, "15")
    payment.refresh_from_db()
    assert payment.amount_refunded == 2500
    stripe_refunds = stripe_gateway.list_refunds(payment.stripe_charge_id)
    assert sorted(r.amount for r in stripe_refunds) == [1000, 1500]

    too_much = refund_from_admin(staff_client, payment, "1")
    assert too_much.status_code == 200
    assert "At most €0.00 can still be refunded" in too_much.content.decode()
    assert Refund.objects.count() == 2
    wait_until(lambda: len(notices_to(mailoutbox, "donor@example.org")) == 2)


def test_a_refund_form_submitted_twice_refunds_once(client, staff_client, tasks, stripe_proxy):
    give(client, amount="20", currency="USD")
    call_command("reconcile_stripe")
    payment = recorded_payment()
    key = str(uuid.uuid4())

    refund_from_admin(staff_client, payment, "5", request_key=key)
    refund_from_admin(staff_client, payment, "5", request_key=key)

    payment.refresh_from_db()
    assert payment.amount_refunded == 500
    assert Refund.objects.count() == 1
    assert len(stripe_gateway.list_refunds(payment.stripe_charge_id)) == 1


def test_refund_amount_that_is_not_a_number_is_a_form_error(
    client, staff_client, tasks, stripe_webhooks
):
    give(client)
    payment = recorded_payment()

    response = refund_from_admin(staff_client, payment, "all of it")

    assert response.status_code == 200
    assert "Enter the amount as a number" in response.content.decode()
    assert not Refund.objects.exists()


def test_only_staff_reach_the_refund_page(client, tasks, stripe_webhooks):
    from tests.factories import UserFactory

    give(client)
    payment = recorded_payment()
    client.force_login(UserFactory())

    response = refund_from_admin(client, payment, "5")

    assert response.status_code in (302, 403)
    assert not Refund.objects.exists()


def test_a_missed_webhook_is_recovered_by_reconciliation(client, tasks, localstripe, mailoutbox):
    give(client, email="missed@example.org")  # no webhook endpoint registered: nothing arrives
    assert not Payment.objects.exists()

    call_command("reconcile_stripe")

    payment = recorded_payment(donor__email="missed@example.org")
    assert payment.amount == 2500
    assert StripeEvent.objects.filter(
        type="payment_intent.succeeded", status__in=["processed"]
    ).exists()
    wait_until(lambda: [m for m in mailoutbox if "missed@example.org" in m.to])

    call_command("reconcile_stripe")  # running it again changes nothing
    assert Payment.objects.count() == 1
