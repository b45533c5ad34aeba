"""`payments.stripe_gateway.verify_webhook` on its own: what a genuine event is, exactly.

tests/payments/test_webhooks.py posts forged, stale and malformed deliveries to the
endpoint; here are the exact bounds, the nesting limit and the header's edge cases,
called directly (no database, no server).
"""

import json
import time

import pytest
from django.conf import settings as django_settings

from payments import stripe_gateway as gateway
from tests.support import stripe_payloads as payloads
from tests.support.webhooks import sign, signed

InvalidWebhook = gateway.InvalidWebhook


def event(**fields) -> dict:
    return {**payloads.event("customer.created", {"id": "cus_1", "object": "customer"}), **fields}


def our_signature(body: bytes, timestamp: int | None = None) -> str:
    return sign(body, django_settings.STRIPE_WEBHOOK_SECRET, timestamp)


def verify(body: dict, *, timestamp: int | None = None) -> dict:
    """Sign `body` with our secret, as Stripe would, and check it."""
    raw = json.dumps(body).encode()
    return gateway.verify_webhook(raw, our_signature(raw, timestamp))


def test_a_genuine_event_comes_back_as_sent():
    sent = event(livemode=True, data={"object": {"id": "cus_1", "nested": [{"a": None}]}})
    assert verify(sent) == sent


def test_a_body_changed_after_signing_is_refused():
    body, header = signed(event(id="evt_original"))
    forged = body.replace(b"evt_original", b"evt_forged00")

    with pytest.raises(InvalidWebhook, match=r"^signature: "):
        gateway.verify_webhook(forged, header)


def test_the_tolerance_setting_decides_how_old_a_signature_may_be(settings):
    now = int(time.time())
    settings.STRIPE_WEBHOOK_TOLERANCE = 10
    with pytest.raises(InvalidWebhook, match="Timestamp outside the tolerance zone"):
        verify(event(), timestamp=now - 60)

    settings.STRIPE_WEBHOOK_TOLERANCE = 600
    assert verify(event(), timestamp=now - 60)["type"] == "customer.created"


def test_the_tolerance_bounds_how_far_ahead_a_signature_may_be_too(settings):
    settings.STRIPE_WEBHOOK_TOLERANCE = 10
    now = int(time.time())

    assert verify(event(), timestamp=now + 5)
    with pytest.raises(InvalidWebhook, match="timestamp in the future"):
        verify(event(), timestamp=now + 60)


def test_a_timestamp_in_other_digits_is_refused_though_its_signature_matches():
    """Python reads fullwidth digits as a number; Stripe's check takes them, ours does not."""
    body = json.dumps(event()).encode()
    ascii_header = our_signature(body)
    t, v1 = ascii_header.split(",")
    fullwidth = "".join(chr(ord(digit) - ord("0") + 0xFF10) for digit in t[2:])

    with pytest.raises(InvalidWebhook, match="timestamp"):
        gateway.verify_webhook(body, f"t={fullwidth},{v1}")


def test_only_v1_signatures_count_and_any_one_of_them_may_match():
    body = json.dumps(event()).encode()
    good = our_signature(body)
    t, v1 = good.split(",")
    retired = sign(body, "whsec_retired").split(",")[1]

    assert gateway.verify_webhook(body, f"{t},{retired},{v1}")["id"]
    assert gateway.verify_webhook(body, f"{t},v0=deadbeef,{v1}")["id"]
    with pytest.raises(InvalidWebhook, match=r"^signature: "):
        gateway.verify_webhook(body, f"{t},{v1.replace('v1=', 'v0=')},{retired}")


@pytest.mark.parametrize("header", ["", "v1=abc", "t=,v1=abc", "garbage"])
def test_a_header_without_a_usable_timestamp_is_refused(header):
    with pytest.raises(InvalidWebhook, match=r"^signature: "):
        gateway.verify_webhook(json.dumps(event()).encode(), header)


# --- Exact bounds of what gets stored ------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "accepted"),
    [
        ({"id": "e" * 255}, True),
        ({"id": "e" * 256}, False),
        ({"id": ""}, False),
        ({"type": "t" * 100}, True),
        ({"type": "t" * 101}, False),
        ({"type": ""}, False),
        ({"api_version": "v" * 50}, True),
        ({"api_version": "v" * 51}, False),
        ({"api_version": None}, True),  # older events may carry none
        ({"created": 1}, True),
        ({"created": 2**32 - 1}, True),
        ({"created": 0}, False),
        ({"created": 2**32}, False),
    ],
    ids=lambda value: repr(value)[:24],
)
def test_the_bounds_of_id_type_version_and_time(fields, accepted):
    body = event(**fields)
    if accepted:
        assert verify(body) == body
    else:
        with pytest.raises(InvalidWebhook, match="out of bounds"):
            verify(body)


@pytest.mark.parametrize(("created", "kind"), [("1800000000", "string"), (1.8e9, "float")])
def test_a_creation_time_that_is_not_an_integer_is_not_an_event(created, kind):
    with pytest.raises(InvalidWebhook, match="not a Stripe event"):
        verify(event(created=created))


def nested(levels: int, *, inside: str = "dict") -> object:
    value: object = {}
    for _ in range(levels):
        value = {"x": value} if inside == "dict" else [value]
    return value


# The event is at depth 1, `data` at 2, `data.object` at 3 and its values at 4: the
# innermost value of `nested(levels)` there is at depth 4 + levels.
@pytest.mark.parametrize("inside", ["dict", "list"])
def test_an_event_may_nest_64_deep_and_no_deeper(inside):
    at_limit = event(data={"object": {"id": "cus_1", "deep": nested(60, inside=inside)}})
    beyond = event(data={"object": {"id": "cus_1", "deep": nested(61, inside=inside)}})

    assert verify(at_limit) == at_limit
    with pytest.raises(InvalidWebhook, match="nested too deep"):
        verify(beyond)


def test_a_nul_anywhere_in_a_list_is_found():
    body = event(data={"object": {"id": "cus_1", "tags": [["ok", ["still ok", "b\x00d"]]]}})
    with pytest.raises(InvalidWebhook, match="NUL characters"):
        verify(body)
