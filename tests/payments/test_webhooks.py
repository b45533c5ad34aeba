"""The webhook inbox: only genuine Stripe events get in, each stored once, raw.

Deliveries are signed here exactly as Stripe signs them (tests.support.webhooks),
so the endpoint's real signature check runs. Events are built in the current
API shape (tests.support.stripe_payloads).
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import stripe
from django.db import OperationalError, connection
from django.test import Client

from payments import stripe_gateway as gateway
from payments.models import Donation, Payment, Receipt, StripeEvent
from payments.states import EventStatus
from tests.payments.donations import give
from tests.support import stripe_payloads as payloads
from tests.support.processes import wait_until
from tests.support.webhooks import post_event, post_raw, sign, signed, webhook_path


def unknown_event(**fields) -> dict:
    """An event of a type we do not handle: storing it asks nothing of Stripe."""
    return payloads.event("customer.created", {"id": "cus_1", "object": "customer"}, **fields)


def refused(response) -> str:
    assert response.status_code == 400, response.content
    return response.json()["error"]


# --- Refused: 400, nothing stored -------------------------------------------------


def test_a_forged_signature_is_refused_and_nothing_is_stored(client, db):
    response = post_event(client, unknown_event(), signature=f"t={int(time.time())},v1={'0' * 64}")

    assert "signature" in refused(response)
    assert not StripeEvent.objects.exists()


def test_an_event_signed_with_another_secret_is_refused(client, db):
    response = post_event(client, unknown_event(), secret="whsec_someone_else")

    assert "No signatures found matching the expected signature" in refused(response)
    assert not StripeEvent.objects.exists()


def test_an_event_without_a_signature_header_is_refused(client, db):
    body, _ = signed(unknown_event())

    response = post_raw(client, body, None)

    assert "No Stripe-Signature header" in refused(response)
    assert not StripeEvent.objects.exists()


def test_a_signature_header_without_a_v1_signature_is_refused(client, db):
    body, header = signed(unknown_event())

    response = post_raw(client, body, header.replace("v1=", "v0="))

    assert "signature" in refused(response)
    assert not StripeEvent.objects.exists()


def test_a_replayed_delivery_older_than_the_tolerance_is_refused(client, db, settings):
    stale = int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE - 5

    response = post_event(client, unknown_event(), timestamp=stale)

    assert "Timestamp outside the tolerance zone" in refused(response)
    assert not StripeEvent.objects.exists()


def test_a_delivery_just_inside_the_tolerance_is_accepted(client, db, settings):
    late = int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE + 30

    response = post_event(client, unknown_event(), timestamp=late)

    assert response.status_code == 200
    assert StripeEvent.objects.count() == 1


def test_a_delivery_signed_during_a_secret_rotation_is_accepted_by_its_current_signature(
    client, db, settings
):
    body, _ = signed(unknown_event())
    old = sign(body, "whsec_retired").split(",v1=")[1]
    current = sign(body, settings.STRIPE_WEBHOOK_SECRET)

    response = post_raw(client, body, f"{current},v1={old}")

    assert response.status_code == 200
    assert StripeEvent.objects.count() == 1


def test_our_test_signature_is_the_one_stripe_computes():
    body = b'{"id": "evt_1", "object": "event"}'

    assert sign(body, "whsec_x", 1_800_000_000) == (
        stripe.WebhookSignature.generate_signature_header(body.decode(), "whsec_x", 1_800_000_000)
    )


def test_a_correctly_signed_body_that_is_not_json_is_refused(client, db, settings):
    body = b'{"id": "evt_1", "type": '

    response = post_raw(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET))

    assert refused(response) == "body: not JSON"
    assert not StripeEvent.objects.exists()


def test_a_body_that_is_not_utf8_is_refused_with_400_not_a_server_error(client, db, settings):
    body = b'{"id": "evt_\xff"}'

    response = post_raw(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET))

    assert refused(response) == "body: not UTF-8"
    assert not StripeEvent.objects.exists()


def _without(key: str) -> dict:
    event = unknown_event()
    del event[key]
    return event


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([unknown_event()], id="a list of events"),
        pytest.param("evt_1", id="a string"),
        pytest.param(_without("id"), id="no id"),
        pytest.param(_without("type"), id="no type"),
        pytest.param(_without("created"), id="no created"),
        pytest.param({**unknown_event(), "data": {}}, id="no data.object"),
        pytest.param({**unknown_event(), "data": {"object": []}}, id="data.object a list"),
        pytest.param({**unknown_event(), "id": 42}, id="id a number"),
    ],
)
def test_signed_json_that_is_not_a_stripe_event_is_refused(client, db, body):
    response = post_event(client, body)

    assert refused(response).startswith("body: not a Stripe event")
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({**unknown_event(), "created": 10**20}, "out of bounds", id="created 1e20"),
        pytest.param({**unknown_event(), "created": -1}, "out of bounds", id="created negative"),
        pytest.param({**unknown_event(), "id": "evt_" + "x" * 300}, "out of bounds", id="long id"),
        pytest.param({**unknown_event(), "type": "t" * 101}, "out of bounds", id="long type"),
        pytest.param(
            {**unknown_event(), "api_version": "v" * 51}, "out of bounds", id="long version"
        ),
        pytest.param({**unknown_event(), "id": "evt_\x00"}, "NUL", id="NUL in the id"),
        pytest.param(
            {**unknown_event(), "data": {"object": {"id": "cus_1", "name": "A\x00"}}},
            "NUL",
            id="NUL in a value",
        ),
        pytest.param(
            {**unknown_event(), "data": {"object": {"id": "cus_1", "a\x00": 1}}},
            "NUL",
            id="NUL in a key",
        ),
    ],
)
def test_a_signed_but_malformed_event_is_a_400_and_nothing_is_stored(client, db, body, reason):
    response = post_event(client, body)

    assert reason in refused(response)
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize("depth", [100, 5000])
def test_an_event_nested_thousands_deep_is_a_400_and_nothing_is_stored(client, db, settings, depth):
    event = json.dumps(unknown_event()).encode()
    deep = b'{"x":' * depth + b"{}" + b"}" * depth
    body = event.replace(b'"object": {', b'"object": {"deep": ' + deep + b", ", 1)

    response = post_raw(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET))

    assert refused(response) in ("body: nested too deep", "body: not JSON")
    assert not StripeEvent.objects.exists()


def test_a_body_nested_beyond_what_json_can_parse_is_a_400(client, db, settings):
    body = b"[" * 200_000 + b"]" * 200_000

    response = post_raw(client, body, sign(body, settings.STRIPE_WEBHOOK_SECRET))

    assert refused(response) == "body: not JSON"


def test_a_signature_dated_in_the_future_beyond_the_tolerance_is_refused(client, db, settings):
    settings.STRIPE_WEBHOOK_TOLERANCE = 300

    response = post_event(client, unknown_event(), timestamp=int(time.time()) + 3600)

    assert "future" in refused(response)
    assert not StripeEvent.objects.exists()


def test_a_signature_a_little_ahead_of_our_clock_is_accepted(client, db, settings):
    settings.STRIPE_WEBHOOK_TOLERANCE = 300

    response = post_event(client, unknown_event(), timestamp=int(time.time()) + 60)

    assert response.status_code == 200


def test_the_endpoint_answers_only_post(client, db):
    assert client.get(webhook_path()).status_code == 405
    assert not StripeEvent.objects.exists()


# --- Accepted: stored once, raw ---------------------------------------------------


def test_a_genuine_event_is_acknowledged_and_stored_exactly_as_sent(client, db):
    sent = payloads.event(
        "payment_intent.succeeded",
        payloads.payment_intent(amount=4200, metadata={"patronage_donation": "unknown"}),
        created=1_800_000_000,
    )

    response = post_event(client, sent)

    assert response.status_code == 200
    assert response.json() == {"received": sent["id"], "duplicate": False}
    stored = StripeEvent.objects.get()
    assert stored.payload == sent
    assert (stored.stripe_id, stored.type) == (sent["id"], "payment_intent.succeeded")
    assert (stored.api_version, stored.livemode) == (payloads.API_VERSION, False)
    assert stored.stripe_created == gateway.timestamp(1_800_000_000)
    assert stored.status == EventStatus.PENDING  # processing is the worker's job


def test_the_same_event_delivered_twice_is_stored_once_and_the_second_is_a_duplicate(client, db):
    sent = unknown_event()

    first = post_event(client, sent)
    second = post_event(client, sent)

    assert first.json() == {"received": sent["id"], "duplicate": False}
    assert second.status_code == 200
    assert second.json() == {"received": sent["id"], "duplicate": True}
    assert StripeEvent.objects.count() == 1


def test_a_later_delivery_of_a_known_event_does_not_overwrite_the_stored_payload(client, db):
    sent = unknown_event()
    post_event(client, sent)

    post_event(client, {**sent, "type": "customer.deleted", "livemode": True})

    stored = StripeEvent.objects.get()
    assert stored.payload == sent
    assert (stored.type, stored.livemode) == ("customer.created", False)


def test_an_event_type_we_do_not_handle_is_stored_and_marked_ignored(client, tasks):
    sent = payloads.event("plan.created", {"id": "plan_1", "object": "plan", "amount": 500})

    response = post_event(client, sent)

    assert response.status_code == 200
    event = wait_until(
        lambda: StripeEvent.objects.filter(stripe_id=sent["id"], status=EventStatus.IGNORED).first()
    )
    assert event.payload == sent
    assert event.attempts == 1
    assert event.processed_at is not None
    assert event.last_error == ""


# --- Many deliveries at once; the database away ------------------------------------


def test_five_concurrent_deliveries_of_one_payment_make_one_event_one_payment_one_receipt(
    client, tasks, localstripe, live_server, mailoutbox
):
    give(client, amount="25", currency="EUR", email="crowd@example.org")
    donation = Donation.objects.get()
    intent = gateway.retrieve_payment_intent(donation.stripe_payment_intent_id)
    body, header = signed(payloads.intent_succeeded(intent))
    url = live_server.url + webhook_path()
    start = threading.Barrier(5)

    def deliver(_):
        start.wait()
        return requests.post(
            url,
            data=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            timeout=30,
        )

    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(deliver, range(5)))

    assert [a.status_code for a in answers] == [200] * 5
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True, True, True, True]
    wait_until(lambda: StripeEvent.objects.filter(status=EventStatus.PROCESSED).exists())
    receipt = wait_until(lambda: Receipt.objects.filter(sent_at__isnull=False).first())
    assert StripeEvent.objects.count() == 1
    payment = Payment.objects.get()
    assert (payment.amount, payment.currency, payment.stripe_charge_id) == (
        2500,
        "EUR",
        intent.charge_id,
    )
    assert Receipt.objects.count() == 1
    assert receipt.times_sent == 1
    assert [m.to for m in mailoutbox] == [["crowd@example.org"]]


def _refuse_inbox_inserts(execute, sql, params, many, context):
    if sql.lstrip().upper().startswith("INSERT") and "payments_stripeevent" in sql:
        raise OperationalError("server closed the connection unexpectedly")
    return execute(sql, params, many, context)


def test_a_delivery_while_the_database_is_down_is_a_500_so_stripe_retries_it(db):
    stripe = Client(raise_request_exception=False)
    sent = unknown_event()

    with connection.execute_wrapper(_refuse_inbox_inserts):
        response = post_event(stripe, sent)

    assert response.status_code == 500
    assert not StripeEvent.objects.exists()

    retried = post_event(stripe, sent)  # Stripe's retry, once the database is back

    assert retried.json() == {"received": sent["id"], "duplicate": False}
    assert StripeEvent.objects.get().payload == sent
