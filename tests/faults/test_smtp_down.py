"""The mail server down when a receipt is due: the payment is recorded all the same, and
the receipt goes out once the mail server is back, exactly once, whether the send
task's own retry or beat's `send_unsent_emails` gets there first (both run here).

The site sends by SMTP (EMAIL_URL=smtp://…) through a proxy the test takes down, to a
mail server that keeps every message (bench/simulation/mailbox.py).
"""

from payments.models import Payment, Receipt, StripeEvent
from payments.states import EventStatus
from tests.support.site_stack import SEND_UNSENT, paid_gift_event


def test_a_receipt_due_while_smtp_is_down_goes_out_once_when_it_is_back(client, site_stack):
    email = "smtp-down@example.org"
    event = paid_gift_event(client, email=email)
    site_stack.smtp.down()

    assert site_stack.deliver(event).status_code == 200

    # Recorded; the receipt's send failed and is to be tried again.
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    site_stack.wait_until(lambda: site_stack.task_runs("send_receipt", "retry"))
    stored.refresh_from_db()
    assert stored.status == EventStatus.PROCESSED
    payment = Payment.objects.get()
    receipt = Receipt.objects.get(payment=payment)
    assert (receipt.sent_at, receipt.claimed_at, receipt.times_sent) == (None, None, 0)
    assert site_stack.mail.to(email) == []
    assert "Connection refused" in site_stack.task_runs("send_receipt", "retry")[0]

    site_stack.smtp.up()
    # Beat's sweeper (as when the retries have run out) besides the pending retry: the
    # retry may have sent it already (then the sweeper finds nothing unsent).
    swept = site_stack.beat(SEND_UNSENT, older_than_minutes=0)["receipts"]

    # Every run has ended (the retry included): one sent it, any other found it sent.
    site_stack.wait_until(lambda: Receipt.objects.filter(pk=receipt.pk, times_sent=1).exists())
    site_stack.wait_until(lambda: site_stack.held_tasks("send_receipt") == 0)
    assert sorted(site_stack.task_runs("send_receipt")) == ["False"] * swept + ["True"]
    receipt.refresh_from_db()
    assert receipt.sent_at is not None and receipt.times_sent == 1
    (sent,) = site_stack.mail.to(email)
    assert "receipt" in sent.subject.lower() and receipt.number in sent.text
