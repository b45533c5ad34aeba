"""Whatever a browser, a bot or a forged webhook sends, the answer is a clean refusal.

Stripe is pointed at a closed port: only a form DonationForm accepts may get
as far as Stripe, and it then answers 502. Nothing is ever stored.
"""

import hashlib
import hmac
import json
import time

import hypothesis
import pytest
from django.http import QueryDict
from django.urls import reverse
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st

from payments.currencies import get_currency, minimum_amount
from payments.forms import DonationForm
from payments.models import Donation, Donor, Payment, StripeEvent
from payments.money import parse_major_amount

pytestmark = pytest.mark.django_db

FUZZ = hypothesis.settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

VALID_FIELDS = {
    "amount": ["25", "1", "10.50", "1,000", "9999.99", "0.5"],
    "currency": ["USD", "EUR", "GBP", "UAH"],
    "email": ["guest@example.org", "A.Reader+tag@Example.ORG"],
    "name": ["", "Olena", "Ana-María O'Neil"],
    "cover_fees": ["", "on"],
    "source": ["", "energy-grid"],
    "campaign": ["", "winter-appeal"],
    "utm_source": ["", "newsletter"],
    "utm_medium": ["", "email"],
    "utm_campaign": ["", "spring_2025"],
    "utm_content": ["", "button"],
    "utm_term": ["", "grid"],
    "website": [""],
}

# Numbers as people and bots type them; exponents stay small (huge ones: see
# test_donation_form.py, a known bug).
amount_like = st.from_regex(
    r"\A[ +-]?[0-9,]{0,9}(\.[0-9]{0,4})?([eE][+-]?[0-9]{1,2})?[ ]?\Z", fullmatch=True
)
any_value = st.one_of(st.text(max_size=300), amount_like)


@pytest.fixture(autouse=True)
def stripe_unreachable(settings):
    """Any call to Stripe fails at once (closed port, no retries); rate limits stay out of it."""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.DONATION_RATE_PER_IP = "100000/h"
    settings.DONATION_RATE_PER_EMAIL = "100000/h"


def nothing_stored() -> bool:
    return not any(model.objects.exists() for model in (Donor, Donation, Payment, StripeEvent))


# Known bug (see test_donation_form.py): a campaign/utm_* value the validator refuses
# makes give_start answer 500. Here attribution is drawn from the characters the
# validator allows (any length); test_any_refused_attribution_... keeps the bug in view.
attribution_like = st.from_regex(r"\A[\w.\-+~%/: ]{0,120}\Z", fullmatch=True)


def hits_the_tracking_message_bug(data) -> bool:
    form = DonationForm(data)
    return not form.is_valid() and any(name in form.errors for name in DonationForm.ATTRIBUTION)


@st.composite
def gift_forms(draw, attribution=attribution_like) -> dict[str, str]:
    """A valid gift with a few fields replaced by anything, or left out."""
    data = {name: draw(st.sampled_from(values)) for name, values in VALID_FIELDS.items()}
    for name in draw(st.sets(st.sampled_from(sorted(VALID_FIELDS)), max_size=4)):
        values = attribution if name in DonationForm.ATTRIBUTION else any_value
        data[name] = draw(st.one_of(st.none(), values))
    return {name: value for name, value in data.items() if value is not None}


def expected_status(data) -> int:
    """400 for what the form refuses; what it accepts goes on to the (closed) Stripe: 502."""
    return 502 if DonationForm(data).is_valid() else 400


@FUZZ
@given(data=gift_forms())
def test_any_form_post_is_refused_with_400_or_reaches_stripe_only_when_valid(client, data):
    response = client.post(reverse("payments:give_start"), data)
    hypothesis.event(f"answered {response.status_code}")

    assert response.status_code == expected_status(data), response.content
    if response.status_code == 400:
        assert response.json()["errors"]
    assert nothing_stored()


@FUZZ
@given(data=gift_forms(attribution=any_value))
@example(data={"amount": "25", "currency": "USD", "email": "guest@example.org", "campaign": ";"})
def test_any_refused_attribution_is_answered_with_400_not_500(client, data):
    response = client.post(reverse("payments:give_start"), data)

    assert response.status_code == expected_status(data), response.content
    assert nothing_stored()


@FUZZ
@given(body=st.binary(max_size=2000))
@example(body=b"amount=25&currency=USD&email=guest%40example.org&amount=%00")
@example(body=b"amount=%FF%FE&currency=USD&email=guest%40example.org")
@example(body=b"amount=25&currency=USD&email=guest%40example.org&utm_source=a%2Bb%20c")
def test_any_urlencoded_body_is_refused_with_400_or_reaches_stripe_only_when_valid(client, body):
    data = QueryDict(body)
    hypothesis.assume(not hits_the_tracking_message_bug(data))

    response = client.post(
        reverse("payments:give_start"), body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == expected_status(data), response.content
    assert nothing_stored()


@FUZZ
@given(amount=any_value, currency=st.sampled_from(sorted(VALID_FIELDS["currency"])))
def test_an_accepted_amount_is_always_within_the_currency_bounds(amount, currency):
    form = DonationForm({"amount": amount, "currency": currency, "email": "guest@example.org"})

    if form.is_valid():
        offered = get_currency(currency)
        assert minimum_amount(offered) <= form.cleaned_data["amount_minor"] <= offered.maximum
    else:
        assert set(form.errors) == {"amount"}


# --- parse_major_amount ----------------------------------------------------------------

currencies = st.sampled_from(["USD", "EUR", "usd", "JPY", "jpy", "XYZ"])


@hypothesis.settings(max_examples=400, deadline=None)
@given(text=any_value, currency=currencies)
def test_parse_major_amount_refuses_with_value_error_or_returns_whole_minor_units(text, currency):
    """Negative numbers are parsed (test_money: "-3" -> -300); the form's minimum refuses them."""
    try:
        minor = parse_major_amount(text, currency)
    except ValueError as exc:
        assert str(exc)
        return
    assert type(minor) is int
    assert abs(minor) <= 10**12


@hypothesis.settings(max_examples=200, deadline=None)
@given(
    value=st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
    grouped=st.booleans(),
)
def test_a_number_with_two_decimals_becomes_exactly_its_cents(value, grouped):
    typed = f"{value:,.2f}" if grouped else f"{value:.2f}"

    assert parse_major_amount(typed, "USD") == int(value * 100)


@hypothesis.settings(max_examples=100, deadline=None)
@given(value=st.integers(min_value=0, max_value=10**12))
def test_a_whole_number_of_yen_is_its_own_minor_unit(value):
    assert parse_major_amount(f"{value:,}", "JPY") == value


@hypothesis.settings(max_examples=20, deadline=None)
@given(exponent=st.integers(min_value=999_998, max_value=10**15), sign=st.sampled_from("+-"))
def test_parse_major_amount_refuses_an_exponent_with_a_value_error(exponent, sign):
    with pytest.raises(ValueError, match="as a number"):
        parse_major_amount(f"{sign}1e{exponent}", "USD")


# --- The webhook ----------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
signature_headers = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda t, sigs: ",".join([f"t={t}", *(f"v1={s}" for s in sigs)]),
        st.integers(min_value=-(10**12), max_value=10**12),
        st.lists(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64), max_size=3),
    ),
)


def post_webhook(client, body: bytes, signature: str | None):
    headers = {} if signature is None else {"Stripe-Signature": signature}
    return client.post(
        reverse("payments:stripe_webhook"), body, content_type="application/json", headers=headers
    )


def sign(body: bytes, secret: str) -> str:
    """A genuine Stripe-Signature header for `body`, as Stripe computes it."""
    timestamp = int(time.time())
    payload = f"{timestamp}.{body.decode()}".encode()
    return f"t={timestamp},v1={hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()}"


@FUZZ
@given(
    body=st.one_of(st.text(max_size=2000), json_values.map(json.dumps)),
    signature=st.one_of(st.none(), signature_headers),
)
def test_a_webhook_with_a_forged_signature_is_refused_and_not_stored(client, body, signature):
    response = post_webhook(client, body.encode(), signature)

    assert response.status_code == 400
    assert "signature" in response.json()["error"]
    assert not StripeEvent.objects.exists()


@FUZZ
@given(body=st.binary(max_size=2000), signature=st.one_of(st.none(), signature_headers))
@example(body=b"\xff\xfe", signature="t=1,v1=00")
def test_a_webhook_body_of_any_bytes_is_refused_and_not_stored(client, body, signature):
    response = post_webhook(client, body, signature)

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


EVENT = {"id": "evt_1", "type": "charge.refunded", "created": 1700000000, "data": {"object": {}}}


def is_event_part(key: str, value) -> bool:
    """What a Stripe event needs at `key`: id and type are text, created an int, data an object."""
    if key == "data":
        return isinstance(value, dict) and isinstance(value.get("object"), dict)
    return isinstance(value, int if key == "created" else str)


# One part of EVENT left out (...) or replaced by a JSON value of the wrong shape.
broken_parts = st.sampled_from(sorted(EVENT)).flatmap(
    lambda key: st.tuples(
        st.just(key),
        st.just(...) | json_values.filter(lambda value: not is_event_part(key, value)),
    )
)


@FUZZ
@given(body=json_values.filter(lambda v: not isinstance(v, dict)), broken=broken_parts)
def test_a_genuinely_signed_body_that_is_not_a_stripe_event_is_refused(
    client, settings, body, broken
):
    key, value = broken
    event = {k: v for k, v in EVENT.items() if k != key}
    if value is not ...:
        event[key] = value

    for payload in (json.dumps(body), json.dumps(event)):
        raw = payload.encode()
        response = post_webhook(client, raw, sign(raw, settings.STRIPE_WEBHOOK_SECRET))

        assert response.status_code == 400, payload
        assert response.json()["error"].startswith("body:")
    assert not StripeEvent.objects.exists()


def test_the_signing_helper_makes_a_signature_the_endpoint_accepts(client, settings):
    raw = json.dumps(EVENT).encode()

    response = post_webhook(client, raw, sign(raw, settings.STRIPE_WEBHOOK_SECRET))

    assert response.status_code == 200
    assert StripeEvent.objects.filter(stripe_id="evt_1").exists()
