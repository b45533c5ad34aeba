"""The bench's pre-signed Stripe events (bench/events.py) pass the site's own webhook
verification, in the shape the handlers read, and travel to wrk's script intact."""

import json

import pytest

from bench.events import Gift, gift_succeeded, read_signed, signed, signed_lines
from bench.give_start import percentile
from bench.ingest import events_needed, repeated
from payments import stripe_gateway as gateway

SECRET = "whsec_bench_test"
GIFT = Gift("3f0c9a52-4a37-4d43-9d1e-0a1b2c3d4e5f", "pi_bench1", "ch_bench1", 2500, "EUR")


@pytest.fixture
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    return SECRET


def test_a_signed_event_passes_the_endpoints_verification(webhook_secret):
    header, body = signed(gift_succeeded(GIFT), webhook_secret)
    event = gateway.verify_webhook(body, header)
    assert event["type"] == "payment_intent.succeeded"


def test_an_event_signed_with_another_secret_is_refused(webhook_secret):
    header, body = signed(gift_succeeded(GIFT), "whsec_someone_else")
    with pytest.raises(gateway.InvalidWebhook):
        gateway.verify_webhook(body, header)


def test_the_event_names_the_gift_and_its_charge_as_the_pinned_api_version_does():
    intent = gateway.intent_from_object(gift_succeeded(GIFT)["data"]["object"])
    assert intent.metadata["patronage_donation"] == GIFT.public_id
    assert (intent.id, intent.charge_id, intent.charge) == ("pi_bench1", "ch_bench1", None)
    assert (intent.amount, intent.currency, intent.status) == (2500, "EUR", "succeeded")


def test_each_event_has_a_new_id():
    assert gift_succeeded(GIFT)["id"] != gift_succeeded(GIFT)["id"]


def test_written_lines_give_back_the_signature_and_body_that_verify(webhook_secret):
    events = [gift_succeeded(GIFT) for _ in range(3)]
    lines = signed_lines(events, webhook_secret)
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    for line, event in zip(lines, events, strict=True):
        header, body = read_signed(line + "\n")
        assert json.loads(body) == event
        assert gateway.verify_webhook(body, header)["id"] == event["id"]


def test_lines_signed_longer_ago_than_stripes_tolerance_are_refused(webhook_secret, settings):
    (line,) = signed_lines([gift_succeeded(GIFT)], webhook_secret, timestamp=1_000_000_000)
    with pytest.raises(gateway.InvalidWebhook):
        gateway.verify_webhook(*reversed(read_signed(line)))


def test_enough_events_are_made_for_the_ceilings_rate_over_the_run():
    assert events_needed(2000, 8) >= 2000 * 8


def test_events_sent_twice_by_wrk_are_read_from_its_output():
    assert repeated("Requests/sec: 10\nREPEATED 42\n") == 42
    assert repeated("Requests/sec: 10\n") == 0


def test_percentiles_are_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([7.0], 95) == 7.0
