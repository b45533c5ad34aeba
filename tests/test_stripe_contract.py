"""The contract check catches what localstripe lets through (tests/support/stripe_contract.py).

Requests are sent with a real `StripeClient` whose transport answers here
without a network, so they go through the library's own encoding and the
session's recorder, exactly as the gateway's requests do.
"""

import json
import typing
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
import requests
import stripe
import typing_extensions
from django.conf import settings
from stripe._encode import _api_encode

from payments import stripe_gateway as gateway
from tests.support import stripe_contract as contract

PINNED = stripe._api_version._ApiVersion.CURRENT


class _Answered(stripe.HTTPClient):
    """A transport that answers every request with a small object and sends nothing."""

    name = "answered-here"

    def request(self, method, url, headers, post_data=None):
        return json.dumps({"id": "obj_1", "object": "customer"}), 200, {}

    def request_stream(self, method, url, headers, post_data=None):
        raise NotImplementedError

    def close(self):
        pass


@pytest.fixture
def client() -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_contract", http_client=_Answered(), max_network_retries=0)


@pytest.fixture
def sent(stripe_contract):
    """The violations of what the test sends, taken so the per-test check does not fail it."""

    def violations() -> list[contract.Violation]:
        return stripe_contract.take_violations()

    return violations


def key() -> dict[str, str]:
    return {"idempotency_key": f"contract-test-{uuid.uuid4()}"}


def test_a_request_valid_for_the_pinned_version_passes(client, sent, stripe_contract):
    idempotency = key()
    client.v1.setup_intents.create(
        params={
            "customer": "cus_1",
            "usage": "off_session",
            "allowed_payment_method_types": ["card"],
            "metadata": {"patronage_membership": "7"},
        },
        options=idempotency,
    )

    assert sent() == []
    request = stripe_contract.requests[-1]
    assert (request.method, request.path) == ("POST", "/v1/setup_intents")
    assert request.params == {
        "customer": "cus_1",
        "usage": "off_session",
        "allowed_payment_method_types": ["card"],
        "metadata": {"patronage_membership": "7"},
    }
    assert request.idempotency_key == idempotency["idempotency_key"]
    assert request.stripe_version == PINNED


@pytest.mark.parametrize(
    ("create", "params_class"),
    [
        ("setup_intents", "SetupIntentCreateParams"),
        ("payment_intents", "PaymentIntentCreateParams"),
    ],
)
def test_payment_method_types_on_an_intent_is_reported_as_removed(
    client, sent, create, params_class
):
    params = {"amount": 500, "currency": "eur"} if create == "payment_intents" else {}
    getattr(client.v1, create).create(
        params={**params, "customer": "cus_1", "payment_method_types": ["card"]}, options=key()
    )

    (violation,) = sent()
    assert violation.request == f"POST /v1/{create}"
    assert violation.parameter == "payment_method_types"
    assert violation.params_class == params_class
    assert "unknown parameter" in violation.problem
    assert f"POST /v1/{create}: parameter `payment_method_types`" in str(violation)


def test_an_unknown_key_inside_a_nested_array_of_hashes_is_reported(client, sent):
    client.v1.subscriptions.create(
        params={"customer": "cus_1", "items": [{"plan": "p1"}, {"plan": "p2", "colour": "red"}]},
        options=key(),
    )

    (violation,) = sent()
    assert (violation.parameter, violation.params_class) == (
        "items[1][colour]",
        "SubscriptionCreateParams",
    )
    assert "not in SubscriptionCreateParamsItem" in violation.problem


def test_an_unknown_key_inside_a_nested_hash_is_reported(client, sent):
    client.v1.customers.update(
        "cus_1",
        params={"invoice_settings": {"default_payment_method": "pm_1", "default_card": "x"}},
        options=key(),
    )

    (violation,) = sent()
    assert violation.parameter == "invoice_settings[default_card]"
    assert violation.params_class == "CustomerUpdateParams"


def test_metadata_takes_any_key_but_only_string_values(client, sent):
    client.v1.customers.update(
        "cus_1", params={"metadata": {"any_key": "7", "to_unset": ""}}, options=key()
    )
    assert sent() == []

    client.v1.customers.update("cus_1", params={"metadata": {"gift": {"id": 7}}}, options=key())
    (violation,) = sent()
    assert violation.parameter == "metadata[gift]"


def test_a_value_outside_a_closed_literal_is_reported(client, sent):
    client.v1.refunds.create(
        params={"payment_intent": "pi_1", "origin": "bank_transfer"}, options=key()
    )

    (violation,) = sent()
    assert violation.parameter == "origin"
    assert "'bank_transfer' is not 'customer_balance'" in violation.problem


def test_an_open_literal_takes_values_the_library_does_not_list(client, sent):
    # `payment_behavior` is `Literal[...] | str`: Stripe may add values before the library does.
    client.v1.subscriptions.create(
        params={"customer": "cus_1", "items": [{"plan": "p1"}], "payment_behavior": "brand_new"},
        options=key(),
    )

    assert sent() == []


def test_an_empty_string_unsets_a_hash_but_another_string_is_not_a_hash(client, sent):
    client.v1.customers.update("cus_1", params={"metadata": ""}, options=key())
    assert sent() == []

    client.v1.customers.update("cus_1", params={"invoice_settings": "pm_1"}, options=key())
    (violation,) = sent()
    assert violation.parameter == "invoice_settings"
    assert "where a hash" in violation.problem


def test_a_missing_required_parameter_is_reported(client, sent):
    client.v1.payment_intents.create(params={"currency": "eur"}, options=key())

    (violation,) = sent()
    assert violation.parameter == "amount"
    assert "required by PaymentIntentCreateParams" in violation.problem


def test_query_parameters_of_reads_are_checked_too(client, sent):
    client.v1.charges.list(params={"created": {"gte": 1, "lt": 2}, "limit": 100})
    client.v1.invoices.retrieve("in_1", params={"expand": ["payments"]})
    assert sent() == []

    client.v1.charges.list(params={"created": {"since": 1}})
    (violation,) = sent()
    assert violation.request == "GET /v1/charges"
    assert violation.parameter == "created[since]"


def test_a_literal_path_is_matched_before_a_path_with_an_id(client, sent):
    client.v1.customers.search(params={"query": "email:'a@example.org'"})
    assert sent() == []

    route = contract.route_for("GET", "/v1/customers/search")
    assert route.template == "/v1/customers/search"
    assert contract.route_for("GET", "/v1/customers/cus_1").template == "/v1/customers/{customer}"


def test_a_path_the_library_does_not_know_is_reported(client, sent):
    client.raw_request("post", "/v1/setup_intents/seti_1/frobnicate", frob="yes")

    (violation,) = sent()
    assert violation.request == "POST /v1/setup_intents/seti_1/frobnicate"
    assert "no such endpoint" in violation.problem


def test_an_idempotency_key_reused_with_other_params_is_reported(client, sent):
    idempotency = key()
    for name in ("Ada", "Bo"):  # a key derived from the email, while the name changed
        client.v1.customers.create(
            params={"email": "a@example.org", "name": name}, options=idempotency
        )

    (violation,) = sent()
    assert violation.request == "POST /v1/customers"
    assert idempotency["idempotency_key"] in violation.problem
    assert "`name`" in violation.problem
    assert "idempotency_error" in violation.problem


def test_an_idempotency_key_replayed_with_the_same_params_passes(client, sent):
    idempotency = key()
    for _ in range(3):  # a retry after a timeout, a double click
        client.v1.customers.create(params={"email": "a@example.org"}, options=idempotency)

    assert sent() == []


def test_the_stripe_version_header_must_be_the_pinned_one(sent):
    expected = getattr(settings, "STRIPE_API_VERSION", PINNED)
    outdated = stripe.StripeClient(
        "sk_test_contract", http_client=_Answered(), stripe_version="2024-06-20"
    )

    outdated.v1.customers.retrieve("cus_1")

    (violation,) = sent()
    assert violation.problem == f"sent Stripe-Version '2024-06-20', the project pins {expected!r}"


def test_the_routes_are_read_from_the_library_for_every_endpoint_the_gateway_calls():
    gateway_endpoints = {
        ("POST", "/v1/customers"): "CustomerCreateParams",
        ("POST", "/v1/customers/{customer}"): "CustomerUpdateParams",
        ("POST", "/v1/setup_intents"): "SetupIntentCreateParams",
        ("GET", "/v1/setup_intents/{intent}"): "SetupIntentRetrieveParams",
        ("POST", "/v1/payment_intents"): "PaymentIntentCreateParams",
        ("GET", "/v1/payment_intents/{intent}"): "PaymentIntentRetrieveParams",
        ("GET", "/v1/plans/{plan}"): "PlanRetrieveParams",
        ("POST", "/v1/plans"): "PlanCreateParams",
        ("GET", "/v1/payment_methods/{payment_method}"): "PaymentMethodRetrieveParams",
        ("POST", "/v1/payment_methods/{payment_method}/attach"): "PaymentMethodAttachParams",
        ("POST", "/v1/subscriptions"): "SubscriptionCreateParams",
        ("DELETE", "/v1/subscriptions/{subscription_exposed_id}"): "SubscriptionCancelParams",
        ("POST", "/v1/invoices/{invoice}/pay"): "InvoicePayParams",
        ("POST", "/v1/refunds"): "RefundCreateParams",
        ("GET", "/v1/charges"): "ChargeListParams",
        ("GET", "/v1/events"): "EventListParams",
    }
    table = {(route.method, route.template): route for route in contract.routes()}

    assert len(table) > 400  # the whole library, not a hand-written list
    for endpoint, params_class in gateway_endpoints.items():
        assert [cls.__name__ for cls in table[endpoint].params_classes()] == [params_class]


def test_every_params_class_the_library_names_can_be_read_to_the_last_nested_key():
    """A library upgrade whose annotations the checker cannot evaluate fails here first."""
    seen: set[type] = set()

    def read(annotation, module: str) -> None:
        annotation = contract._resolve(annotation, module)
        if typing.get_origin(annotation) in contract._LITERALS:
            return
        if typing_extensions.is_typeddict(annotation):
            if annotation not in seen:
                seen.add(annotation)
                for field in contract._fields(annotation).values():
                    read(field, annotation.__module__)
            return
        for argument in typing.get_args(annotation):
            read(argument, module)

    for route in contract.routes():
        for params_class in route.params_classes():
            read(params_class, params_class.__module__)

    assert len(seen) > 1000


@pytest.mark.parametrize(
    "params",
    [
        {"customer": "cus_1", "confirm": True, "off_session": False, "amount": 500},
        {"items": [{"plan": "p1", "quantity": 2}, {"id": "si_1", "deleted": True}]},
        {"metadata": {"patronage_donation": "7", "note": "a=b&c[d]"}, "description": ""},
        {"created": {"gte": 1_700_000_000, "lt": 1_800_000_000}, "limit": 100},
        {"expand": ["payments", "lines.data.price"], "types": ["invoice.paid"]},
        {"invoice_settings": {"custom_fields": [{"name": "VAT", "value": "FR1"}]}},
        {"tiers": [{"up_to": "inf", "flat_amount": 0}], "nested": [[1, 2], [3]]},
        {"trial_end": datetime(2030, 1, 1, tzinfo=UTC), "skipped": None},
    ],
)
def test_form_decoding_round_trips_the_librarys_encoder(params):
    # What `_APIRequestor` puts on the wire: `_api_encode`, urlencode, brackets kept literal.
    wire = urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")

    assert contract.decode_form(wire) == as_sent(params)


def as_sent(value):
    """`value` as form encoding carries it: strings, no None, no empty hashes or arrays."""
    if isinstance(value, dict):
        kept = {k: as_sent(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in kept.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [as_sent(item) for item in value]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return str(int(value.timestamp()))
    return str(value)


def test_brackets_without_an_index_decode_to_a_list():
    assert contract.decode_form("expand[]=a&expand[]=b&limit=3") == {
        "expand": ["a", "b"],
        "limit": "3",
    }


def test_the_gateways_requests_are_recorded_at_the_http_boundary(localstripe, stripe_contract):
    before = len(stripe_contract.requests)

    customer_id = gateway.create_customer(
        email=f"contract-{uuid.uuid4().hex[:8]}@example.org",
        name="Ada",
        idempotency_key=f"contract-test-{uuid.uuid4()}",
    )

    (request,) = stripe_contract.requests[before:]
    assert (request.method, request.path) == ("POST", "/v1/customers")
    assert request.params["name"] == "Ada"
    assert request.idempotency_key.startswith("contract-test-")
    assert request.stripe_version == getattr(settings, "STRIPE_API_VERSION", PINNED)
    assert customer_id.startswith("cus_")


def test_requests_made_without_the_stripe_library_are_not_checked(localstripe, stripe_contract):
    """The tests' fake Stripe.js and the emulator's own endpoints are not Stripe's API."""
    before = len(stripe_contract.requests)

    requests.get(f"{localstripe}/js.stripe.com/v3/", timeout=5)

    assert stripe_contract.requests[before:] == []
