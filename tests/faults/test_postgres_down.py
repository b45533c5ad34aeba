"""PostgreSQL down when Stripe's webhook arrives: the endpoint answers 5xx, so Stripe
delivers it again, and leaves nothing half-written; Stripe's next delivery, once the
database is back, is stored and processed once.

The database goes down for the site's processes only (gunicorn and its worker reach
it through a proxy the test takes down): the shared server keeps serving the others.
"""

from payments.models import Payment, Receipt, StripeEvent
from payments.states import EventStatus
from tests.support.site_stack import SWEEP, paid_gift_event

# The statement that stores an event, however ingest writes it.
STORE_EVENT = rb'insert\s+into\s+"?payments_stripeevent"?'


def assert_processed_once(site_stack, event: dict, email: str) -> None:
    """Stripe's next delivery is stored (or found stored) and processed: one event, one
    ledger row, one receipt sent once."""
    retried = site_stack.deliver(event)

    assert retried.status_code == 200, retried.text
    assert retried.json()["received"] == event["id"]
    if retried.json()["duplicate"]:  # stored by the lost statement, never enqueued:
        site_stack.beat(SWEEP, older_than_seconds=0)  # beat's sweeper enqueues it
    stored = StripeEvent.objects.get(stripe_id=event["id"])

    def processed():
        stored.refresh_from_db()
        return stored.status == EventStatus.PROCESSED

    site_stack.wait_until(processed)
    receipt = site_stack.wait_until(
        lambda: Receipt.objects.filter(sent_at__isnull=False, email=email).first()
    )
    assert stored.payload == event
    assert StripeEvent.objects.filter(type=event["type"]).count() == 1
    assert Payment.objects.count() == 1
    assert receipt.times_sent == 1
    assert len(site_stack.mail.to(email, "receipt")) == 1


def test_a_webhook_while_postgres_is_down_is_a_5xx_and_stripes_retry_is_processed_once(
    client, site_stack
):
    email = "db-down@example.org"
    event = paid_gift_event(client, email=email)
    site_stack.database.down()

    answer = site_stack.deliver(event)

    assert 500 <= answer.status_code < 600, answer.text
    assert "Traceback" not in answer.text
    assert not StripeEvent.objects.filter(stripe_id=event["id"]).exists()

    site_stack.database.up()
    assert_processed_once(site_stack, event, email)


def test_postgres_lost_mid_store_leaves_the_event_whole_or_absent_and_is_processed_once(
    client, site_stack
):
    """The connection dies right after the statement that stores the event reached the
    server, before its answer came back: whatever the server made of it (rolled back
    with its transaction, or committed on its own), Stripe is told to retry, and no
    event is left half-stored or stuck."""
    email = "db-lost@example.org"
    event = paid_gift_event(client, email=email)
    site_stack.database.lose_answer_to(STORE_EVENT)

    answer = site_stack.deliver(event)

    site_stack.database.wait_for_lost_answer()
    assert 500 <= answer.status_code < 600, answer.text
    assert "Traceback" not in answer.text
    stored = StripeEvent.objects.filter(stripe_id=event["id"]).first()
    assert stored is None or (stored.payload, stored.status) == (event, EventStatus.PENDING)
    assert not Payment.objects.exists()

    site_stack.database.up()
    assert_processed_once(site_stack, event, email)
