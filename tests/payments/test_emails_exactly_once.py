"""Receipts and refund notices cannot be lost and are never sent twice.

A sender claims an email in a transaction of its own, sends it with no lock
held, then records that it went. A sender that dies after claiming leaves a
stale claim that the sweeper (`send_unsent_emails`, beat) takes over; a
deadlock, a lost connection or a mail server error is retried with backoff.
"""

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from payments import emails
from payments import tasks as payment_tasks
from payments.models import Donor, Payment, Receipt
from tests.factories import PaymentFactory
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def receipts_to(mailoutbox, email: str) -> list:
    return [m for m in mailoutbox if email in m.to and "receipt" in m.subject.lower()]


@pytest.fixture
def unsent():
    """A ledger row whose receipt exists and has not gone out yet."""
    payment = PaymentFactory(donor__email="once@example.org")
    return Receipt.objects.create(payment=payment, number="2026-00000001", email="once@example.org")


def test_two_senders_at_once_send_the_receipt_once(unsent, mailoutbox):
    results = []
    barrier = threading.Barrier(4)

    def sender():
        barrier.wait()
        try:
            results.append(emails.send_receipt(unsent.payment_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, False, False, True]
    assert len(receipts_to(mailoutbox, "once@example.org")) == 1
    unsent.refresh_from_db()
    assert (unsent.times_sent, unsent.claimed_at) == (1, None)
    assert unsent.sent_at is not None


def test_a_mail_server_error_frees_the_claim_so_the_retry_sends_it(unsent, mailoutbox, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionRefusedError("SMTP down")

    monkeypatch.setattr(emails, "send_templated", down)
    with pytest.raises(ConnectionRefusedError):
        emails.send_receipt(unsent.payment_id)
    unsent.refresh_from_db()
    assert (unsent.sent_at, unsent.claimed_at) == (None, None)

    monkeypatch.undo()
    assert emails.send_receipt(unsent.payment_id) is True
    assert len(receipts_to(mailoutbox, "once@example.org")) == 1


def test_the_receipt_task_retries_transient_failures():
    for failure in (OSError, OperationalError):
        assert issubclass(failure, payment_tasks.TRANSIENT)
    assert payment_tasks.send_receipt.autoretry_for == payment_tasks.TRANSIENT
    assert payment_tasks.send_refund_notice.autoretry_for == payment_tasks.TRANSIENT


def sent(receipt: Receipt) -> bool:
    receipt.refresh_from_db()
    return receipt.sent_at is not None


def test_the_sweeper_sends_what_was_never_sent_and_only_that(unsent, tasks, mailoutbox):
    Receipt.objects.filter(pk=unsent.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    already = PaymentFactory(donor__email="sent@example.org")
    Receipt.objects.create(
        payment=already, number="2026-00000002", email="sent@example.org", sent_at=timezone.now()
    )

    assert payment_tasks.send_unsent_emails() == {"receipts": 1, "refund_notices": 0}
    wait_until(lambda: sent(unsent))
    assert payment_tasks.send_unsent_emails() == {"receipts": 0, "refund_notices": 0}

    assert len(receipts_to(mailoutbox, "once@example.org")) == 1
    assert not receipts_to(mailoutbox, "sent@example.org")


def test_a_sender_killed_between_claiming_and_sending_is_taken_over_once(unsent, tasks, mailoutbox):
    """A real process claims the receipt and dies before the email leaves."""
    script = (
        "import os, django; django.setup()\n"
        "from payments import emails\n"
        "emails.send_templated = lambda *a, **k: os._exit(9)\n"
        f"emails.send_receipt({unsent.payment_id})\n"
    )
    database = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{database['NAME']}"
    else:
        env["DATABASE_URL"] = (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        )
    died = subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, env=env, timeout=60
    )
    assert died.returncode == 9

    unsent.refresh_from_db()
    assert unsent.claimed_at is not None and unsent.sent_at is None  # claimed, never sent
    Receipt.objects.filter(pk=unsent.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert payment_tasks.send_unsent_emails() == {
        "receipts": 0,
        "refund_notices": 0,
    }  # claim is live
    assert not receipts_to(mailoutbox, "once@example.org")

    stale = timezone.now() - emails.CLAIM_TIMEOUT - timedelta(seconds=1)
    Receipt.objects.filter(pk=unsent.pk).update(claimed_at=stale)
    assert payment_tasks.send_unsent_emails() == {"receipts": 1, "refund_notices": 0}
    wait_until(lambda: sent(unsent))
    assert payment_tasks.send_unsent_emails() == {"receipts": 0, "refund_notices": 0}

    assert len(receipts_to(mailoutbox, "once@example.org")) == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and deadlocks need PostgreSQL"
)
def test_a_receipt_sent_while_a_refund_is_recorded_does_not_deadlock_and_goes_out_once(
    unsent, mailoutbox, monkeypatch
):
    """The refund side locks the donor and then changes the payment; the receipt
    sender runs in between. Had the sender locked the payment and the donor with
    the receipt, each would wait for the other until PostgreSQL killed one."""
    payment = unsent.payment
    donor_locked = threading.Event()
    sender_started = threading.Event()
    errors = []

    def refund_side():
        try:
            with transaction.atomic():
                Donor.objects.select_for_update().get(pk=payment.donor_id)
                donor_locked.set()
                sender_started.wait(5)
                time.sleep(0.5)  # the sender is now taking its locks
                Payment.objects.filter(pk=payment.pk).update(amount_refunded=100)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def sender_side():
        donor_locked.wait(5)
        sender_started.set()
        try:
            emails.send_receipt(payment.pk)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refund_side), threading.Thread(target=sender_side)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert len(receipts_to(mailoutbox, "once@example.org")) == 1
    assert Payment.objects.get(pk=payment.pk).amount_refunded == 100


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and deadlocks need PostgreSQL"
)
def test_sending_a_receipt_locks_only_the_receipt(unsent, monkeypatch):
    holding = threading.Event()
    release = threading.Event()

    def slow_mail_server(*args, **kwargs):
        holding.set()
        release.wait(10)

    monkeypatch.setattr(emails, "send_templated", slow_mail_server)
    sender = threading.Thread(target=lambda: (emails.send_receipt(unsent.payment_id),))
    sender.start()
    try:
        wait_until(holding.is_set)
        with transaction.atomic():  # NOWAIT: raises at once if the sender held any of them
            Receipt.objects.select_for_update(nowait=True).get(pk=unsent.pk)
            Payment.objects.select_for_update(nowait=True).get(pk=unsent.payment_id)
            Donor.objects.select_for_update(nowait=True).get(pk=unsent.payment.donor_id)
    finally:
        release.set()
        sender.join(10)


def test_staff_find_unsent_receipts_in_admin(unsent, staff_client):
    from django.urls import reverse

    sent = PaymentFactory(donor__email="sent@example.org")
    Receipt.objects.create(
        payment=sent, number="2026-00000002", email="sent@example.org", sent_at=timezone.now()
    )

    page = staff_client.get(reverse("admin:payments_receipt_changelist"), {"sent": "no"})

    content = page.content.decode()
    assert "2026-00000001" in content and "NOT SENT" in content
    assert "2026-00000002" not in content
