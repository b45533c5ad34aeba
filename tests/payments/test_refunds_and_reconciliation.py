"""Journey 6 (staff refund from admin) and a missed webhook recovered by reconciliation."""

import io
import time
import uuid
from datetime import datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from payments import stripe_gateway
from payments.models import Payment, Receipt, Refund, StripeEvent
from payments.selectors import compare_ledger_with_stripe
from payments.states import RefundStatus
from tests.payments.donations import give, recorded_payment
from tests.support.processes import wait_until


def refund_from_admin(
    client, payment: Payment, amount: str, request_key: str | None = None, **fields: str
):
    return client.post(
        reverse("admin:payments_payment_refund", args=[payment.pk]),
        {
            "amount": amount,
            "reason": "requested_by_customer",
            "request_key": request_key or str(uuid.uuid4()),
            **fields,
        },
    )


def refunded_total(payment: Payment) -> int:
    return Payment.objects.get(pk=payment.pk).amount_refunded


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

    response = refund_from_admin(
        staff_client, payment, "10", reason="duplicate", note="Gave twice by mistake"
    )
    assert response.status_code == 302
    (refund,) = payment.refunds.all()
    assert (refund.amount, refund.reason, refund.note) == (
        1000,
        "duplicate",
        "Gave twice by mistake",
    )
    assert refund.requested_by is not None
    # The ledger moves when Stripe's refund event arrives (through the webhook endpoint).
    wait_until(lambda: refunded_total(payment) == 1000)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert (refund.note, refund.reason) == ("Gave twice by mistake", "duplicate")  # kept
    (notice,) = wait_until(lambda: notices_to(mailoutbox, "donor@example.org"))
    assert "€10.00" in notice.body

    refund_from_admin(staff_client, payment, "15")
    wait_until(lambda: refunded_total(payment) == 2500)
    stripe_refunds = stripe_gateway.list_refunds(payment.stripe_charge_id)
    assert sorted(r.amount for r in stripe_refunds) == [1000, 1500]
    assert {r.reason for r in stripe_refunds} == {"duplicate", "requested_by_customer"}

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

    (refund,) = Refund.objects.all()
    assert (refund.amount, refund.status) == (500, RefundStatus.PENDING)
    assert refunded_total(payment) == 0  # no webhook here: the ledger waits for the event
    assert len(stripe_gateway.list_refunds(payment.stripe_charge_id)) == 1

    call_command("reconcile_stripe")  # fetches the refund's events

    wait_until(lambda: refunded_total(payment) == 500)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED


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


def next_whole_second() -> datetime:
    """A period start after every charge earlier tests made in the shared localstripe."""
    start = timezone.now().replace(microsecond=0) + timedelta(seconds=1)
    time.sleep((start - timezone.now()).total_seconds())
    return start


def test_comparing_the_ledger_with_stripe_finds_a_missed_charge_until_it_is_recovered(
    client, staff_client, tasks, localstripe
):
    start = next_whole_second()
    give(client, amount="25", currency="EUR", email="seen@example.org")
    give(client, amount="40", currency="USD", email="unseen@example.org")
    call_command("reconcile_stripe")  # records both...
    wait_until(lambda: Payment.objects.count() == 2)
    missed = Payment.objects.filter(donor__email="unseen@example.org")  # ...one goes missing
    Receipt.objects.filter(payment__in=missed).delete()
    missed.delete()
    seen = Payment.objects.get()
    refund_from_admin(staff_client, seen, "5")
    end = timezone.now() + timedelta(minutes=1)
    period = ["--compare", start.isoformat(), end.isoformat()]

    report = io.StringIO()
    with pytest.raises(CommandError, match="differ"):
        call_command("reconcile_stripe", *period, stdout=report)

    lines = report.getvalue()
    assert "EUR: charged €25.00 in Stripe, €25.00 in the ledger; refunded €5.00" in lines
    assert "USD: charged $40.00 in Stripe, $0.00 in the ledger" in lines and "DIFFERS" in lines
    (missing,) = compare_ledger_with_stripe(start, end).missing_charge_ids
    assert missing.startswith("ch_")

    StripeEvent.objects.all().delete()  # so reconciliation fetches the events again
    call_command("reconcile_stripe")
    wait_until(lambda: Payment.objects.count() == 2)
    report = io.StringIO()
    call_command("reconcile_stripe", *period, stdout=report)

    assert "The ledger matches Stripe." in report.getvalue()
    assert compare_ledger_with_stripe(start, end).matches


# --- The command line, as its help shows it ----------------------------------------------


def _today() -> str:
    return timezone.localdate().isoformat()


def _help() -> str:
    from payments.management.commands.reconcile_stripe import Command

    return Command().create_parser("manage.py", "reconcile_stripe").format_help()


def test_the_help_shows_plain_dates_for_since_and_compare():
    help_text = " ".join(_help().split())
    assert "e.g. 2026-11-01 or 2026-11-01T09:00" in help_text
    assert "--compare 2026-11-01 2026-12-01" in help_text


@pytest.mark.parametrize(
    "since",
    [
        pytest.param(lambda: _today(), id="plain date"),
        pytest.param(lambda: f"{_today()}T00:30", id="naive date-time"),
        pytest.param(lambda: f"{_today()}T00:30+01:00", id="date-time with offset"),
        pytest.param(lambda: f"{_today()}T00:30:00Z", id="UTC date-time"),
    ],
)
def test_reconcile_accepts_since_as_a_date_or_date_time_with_or_without_a_zone(
    db, localstripe, since
):
    report = io.StringIO()
    call_command("reconcile_stripe", "--since", since(), stdout=report)
    assert "Stripe events seen:" in report.getvalue()


def test_compare_accepts_plain_dates_read_in_the_site_time_zone(db, localstripe, settings):
    # A period with no charges yet (the emulator is shared by the whole session).
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    later = (timezone.localdate() + timedelta(days=2)).isoformat()
    report = io.StringIO()

    call_command("reconcile_stripe", "--compare", tomorrow, later, stdout=report)

    assert "The ledger matches Stripe." in report.getvalue()


def test_a_naive_date_is_midnight_in_the_site_time_zone(settings):
    from payments.management.commands.reconcile_stripe import _moment

    settings.TIME_ZONE = "Europe/Kyiv"
    with timezone.override("Europe/Kyiv"):
        moment = _moment("2026-11-25", "--since")
    assert moment.isoformat() == "2026-11-25T00:00:00+02:00"


def test_a_date_that_is_not_one_is_refused_with_the_accepted_forms(db):
    with pytest.raises(CommandError, match="2026-11-25T14:30"):
        call_command("reconcile_stripe", "--since", "25/11/2026")
