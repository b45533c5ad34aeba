"""The test payload builders speak Stripe's current API, checked against Stripe's own fixtures.

`../shared/stripe/fixtures3.json` is the fixture set of Stripe's OpenAPI
repository (the objects its mock server answers with). Every key a builder
emits must exist there at the same nesting, with the same JSON type, and the
fields our handlers read must be present on both sides. A few keys Stripe
leaves out of its fixtures (optional or includable fields) are listed in
NOT_IN_FIXTURE with the reason, and must at least be declared by the `stripe`
library. Skipped, with the reason, where `../shared` is absent; CI has it.
"""

import json
from pathlib import Path

import pytest
import stripe

from payments import stripe_gateway as gateway
from payments.stripe_gateway.parsing import payment_method_from_object
from tests.support import stripe_payloads as payloads

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared/stripe/fixtures3.json"

# Keys real Stripe sends that fixtures3.json leaves out, each with why.
CARD_ERROR = "set on card errors; the fixture's error has a type only"
NOT_IN_FIXTURE = {
    "payment_intent.last_payment_error.code": CARD_ERROR,
    "payment_intent.last_payment_error.message": CARD_ERROR,
    "payment_intent.last_payment_error.payment_method": CARD_ERROR,
    "payment_intent.last_payment_error.decline_code": CARD_ERROR,
    "setup_intent.last_setup_error.code": CARD_ERROR,
    "setup_intent.last_setup_error.message": CARD_ERROR,
    "setup_intent.last_setup_error.payment_method": CARD_ERROR,
    "setup_intent.last_setup_error.decline_code": CARD_ERROR,
    "invoice.payments": "includable list (expand[]=payments), absent from the fixture invoice",
    "invoice_payment.payment.payment_intent": "present when payment.type is payment_intent",
}

# What the library declares for those keys: (class, attribute path).
LIBRARY_DECLARES = {
    "payment_intent.last_payment_error.code": (stripe.PaymentIntent, ["LastPaymentError", "code"]),
    "payment_intent.last_payment_error.message": (
        stripe.PaymentIntent,
        ["LastPaymentError", "message"],
    ),
    "payment_intent.last_payment_error.payment_method": (
        stripe.PaymentIntent,
        ["LastPaymentError", "payment_method"],
    ),
    "payment_intent.last_payment_error.decline_code": (
        stripe.PaymentIntent,
        ["LastPaymentError", "decline_code"],
    ),
    "setup_intent.last_setup_error.code": (stripe.SetupIntent, ["LastSetupError", "code"]),
    "setup_intent.last_setup_error.decline_code": (
        stripe.SetupIntent,
        ["LastSetupError", "decline_code"],
    ),
    "setup_intent.last_setup_error.message": (stripe.SetupIntent, ["LastSetupError", "message"]),
    "setup_intent.last_setup_error.payment_method": (
        stripe.SetupIntent,
        ["LastSetupError", "payment_method"],
    ),
    "invoice.payments": (stripe.Invoice, ["payments"]),
    "invoice_payment.payment.payment_intent": (
        stripe.InvoicePayment,
        ["Payment", "payment_intent"],
    ),
}

# Each builder with the fields the gateway and handlers read from its objects.
BUILDERS = {
    "payment_intent": (
        payloads.payment_intent,
        ["id", "status", "amount", "currency", "customer", "latest_charge", "metadata",
         "client_secret", "last_payment_error"],
    ),
    "charge": (
        payloads.charge,
        ["id", "payment_intent", "amount", "currency", "created", "amount_refunded",
         "balance_transaction", "billing_details.email", "receipt_email"],
    ),
    "balance_transaction": (payloads.balance_transaction, ["id", "fee", "net"]),
    "setup_intent": (
        payloads.setup_intent,
        ["id", "status", "client_secret", "payment_method", "metadata", "last_setup_error"],
    ),
    "payment_method": (payloads.payment_method, ["id", "card.fingerprint", "customer"]),
    "refund": (
        payloads.refund,
        ["id", "charge", "payment_intent", "amount", "currency", "status", "reason", "metadata"],
    ),
    "dispute": (
        payloads.dispute,
        ["id", "charge", "payment_intent", "amount", "currency", "status", "reason", "created"],
    ),
    "invoice": (
        payloads.invoice,
        ["id", "customer", "parent.subscription_details.subscription",
         "parent.subscription_details.metadata", "amount_paid", "amount_due", "currency",
         "status", "billing_reason", "lines.data.period.end", "created"],
    ),
    "invoice_payment": (
        payloads.invoice_payment,
        ["id", "invoice", "payment.type", "payment.payment_intent", "amount_paid", "status"],
    ),
    "subscription": (
        payloads.subscription,
        ["id", "customer", "status", "items.data.current_period_end", "items.data.price.id",
         "items.data.price.unit_amount", "items.data.price.recurring.interval",
         "items.data.quantity", "cancel_at_period_end", "canceled_at", "ended_at",
         "latest_invoice", "metadata", "created"],
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def resources() -> dict:
    if not FIXTURES.exists():
        pytest.skip(f"Stripe's fixtures not found at {FIXTURES} (../shared is absent here)")
    return json.loads(FIXTURES.read_text())["resources"]


def unknown_keys(built, fixture, path: str, resources: dict) -> list[str]:
    """Paths in `built` that Stripe's fixture does not have, or has with another JSON type."""
    problems = []
    for key, value in built.items():
        here = f"{path}.{key}"
        if key not in fixture:
            if here not in NOT_IN_FIXTURE:
                problems.append(f"{here}: not in the fixture")
            continue
        expected = fixture[key]
        if value is None or expected is None or key == "metadata":
            continue
        if isinstance(value, dict) and not isinstance(expected, dict):
            # An expanded field (id in the fixture, object here): compare with its resource.
            if value.get("object") not in resources:
                problems.append(f"{here}: an object where the fixture has {expected!r}")
            else:
                problems += unknown_keys(value, resources[value["object"]], here, resources)
        elif type(value) is not type(expected):
            problems.append(f"{here}: {type(value).__name__}, fixture has {expected!r}")
        elif isinstance(value, dict):
            problems += unknown_keys(value, expected, here, resources)
        elif isinstance(value, list) and expected and isinstance(expected[0], dict):
            for item in value:
                problems += unknown_keys(item, expected[0], here, resources)
    return problems


def lookup(obj, dotted: str) -> tuple[bool, object]:
    """(present, value) for a dotted path; a list on the way is entered at its first item."""
    for key in dotted.split("."):
        if isinstance(obj, list):
            obj = obj[0]
        if not isinstance(obj, dict) or key not in obj:
            return False, None
        obj = obj[key]
    return True, obj


def full_objects() -> dict[str, dict]:
    """Each builder's output with every optional part filled in (expanded, nested, erring)."""
    intent_id = payloads.new_id("pi")
    return {
        "payment_intent": payloads.payment_intent(
            id=intent_id,
            customer="cus_1",
            latest_charge=payloads.charge(
                payment_intent=intent_id, balance_transaction=payloads.balance_transaction()
            ),
            metadata={"patronage_donation": "x"},
            error="Your card was declined.",
            card="4f1a2b3c4d5e6f70",
            decline_code="insufficient_funds",
        ),
        "setup_intent": payloads.setup_intent(
            metadata={"patronage_donation": "x"},
            error="Your card was declined.",
            card="4f1a2b3c4d5e6f70",
            decline_code="insufficient_funds",
        ),
        "payment_method": payloads.payment_method(fingerprint="4f1a2b3c4d5e6f70"),
        "charge": payloads.charge(
            balance_transaction=payloads.balance_transaction(fee=100),
            payment_intent=intent_id,
            email="reader@example.org",
        ),
        "balance_transaction": payloads.balance_transaction(),
        "refund": payloads.refund(payment_intent=intent_id, reason="requested_by_customer"),
        "dispute": payloads.dispute(payment_intent=intent_id),
        "invoice": payloads.invoice(payments=[payloads.invoice_payment(payment_intent=intent_id)]),
        "invoice_payment": payloads.invoice_payment(payment_intent=intent_id),
        "subscription": payloads.subscription(latest_invoice=payloads.new_id("in")),
    }


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_emits_only_keys_stripe_has_at_the_same_nesting(name, resources):
    for built in (BUILDERS[name][0](), full_objects()[name]):
        assert built["object"] == name
        assert unknown_keys(built, resources[name], name, resources) == []


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_fields_the_handlers_read_are_in_the_builder_output_and_in_stripes_object(name, resources):
    builder, fields = BUILDERS[name]
    for field in fields:
        assert lookup(builder(), field)[0], f"{name}.{field} missing from the builder's output"
        if f"{name}.{field}" not in NOT_IN_FIXTURE:
            assert lookup(resources[name], field)[0], f"{name}.{field} missing from Stripe's"


def test_event_envelope_has_stripes_keys_and_the_current_api_version(resources):
    built = payloads.event("payment_intent.succeeded", payloads.payment_intent())

    envelope = {key: value for key, value in built.items() if key != "data"}
    assert unknown_keys(envelope, resources["event"], "event", resources) == []
    assert set(built["data"]) <= set(resources["event"]["data"])
    assert built["api_version"] == stripe.api_version
    assert built["id"].startswith("evt_")


def test_invoice_payments_list_items_are_invoice_payment_objects(resources):
    built = payloads.invoice(payments=[payloads.invoice_payment()])

    (payment,) = built["payments"]["data"]
    assert unknown_keys(payment, resources["invoice_payment"], "invoice_payment", resources) == []
    assert "subscription" not in built  # moved under parent.subscription_details


def test_keys_left_out_of_stripes_fixture_are_declared_by_the_stripe_library():
    assert set(LIBRARY_DECLARES) == set(NOT_IN_FIXTURE)
    for path, (cls, attributes) in LIBRARY_DECLARES.items():
        *nested, attribute = attributes
        for name in nested:
            cls = getattr(cls, name)
        assert attribute in cls.__annotations__, path


def test_builders_make_fresh_stripe_style_ids():
    intents = {payloads.payment_intent()["id"] for _ in range(50)}

    assert len(intents) == 50
    assert all(i.startswith("pi_") for i in intents)
    assert payloads.charge()["id"].startswith("ch_")
    assert payloads.refund()["id"].startswith("re_")
    assert payloads.dispute()["id"].startswith("dp_")


# --- The gateway reads the current shape -------------------------------------------


def test_gateway_reads_a_current_shape_payment_intent_with_its_charge_as_an_id():
    built = payloads.payment_intent(
        amount=4200, currency="usd", customer="cus_9", metadata={"patronage_donation": "abc"}
    )

    intent = gateway.intent_from_object(built)

    assert (intent.id, intent.status, intent.amount, intent.currency) == (
        built["id"],
        "succeeded",
        4200,
        "USD",
    )
    assert intent.customer_id == "cus_9"
    assert intent.charge_id == built["latest_charge"]
    assert intent.charge is None
    assert intent.metadata == {"patronage_donation": "abc"}


def test_gateway_reads_an_expanded_latest_charge_and_a_card_error_in_our_words():
    charge = payloads.charge(
        amount=1000, balance_transaction=payloads.balance_transaction(amount=1000, fee=59)
    )
    built = payloads.payment_intent(
        amount=1000, latest_charge=charge, status="requires_payment_method", error="Declined."
    )

    intent = gateway.intent_from_object(built)

    assert intent.charge_id == charge["id"]
    assert (intent.charge.fee, intent.charge.net) == (59, 941)
    assert intent.error_code == "card_declined"
    assert intent.error_message == gateway.card_message("card_declined")  # ours, not Stripe's


def test_gateway_reads_a_current_shape_charge_with_and_without_its_balance_transaction():
    expanded = payloads.charge(
        amount=2500,
        amount_refunded=500,
        payment_intent="pi_1",
        email="reader@example.org",
        balance_transaction=payloads.balance_transaction(amount=2500, fee=103),
        created=1_800_000_000,
    )

    info = gateway.charge_from_object(expanded)
    bare = gateway.charge_from_object(payloads.charge())

    assert (info.id, info.payment_intent_id, info.amount, info.currency) == (
        expanded["id"],
        "pi_1",
        2500,
        "EUR",
    )
    assert (info.amount_refunded, info.fee, info.net) == (500, 103, 2397)
    assert info.email == "reader@example.org"
    assert info.created == gateway.timestamp(1_800_000_000)
    assert (bare.fee, bare.net) == (None, None)


def test_gateway_reads_a_current_shape_refund_and_dispute():
    refund = gateway.refund_from_object(
        payloads.refund(
            amount=700, charge="ch_1", payment_intent="pi_1", status="pending", reason="duplicate"
        )
    )
    dispute = gateway.dispute_from_object(
        payloads.dispute(amount=2500, charge="ch_1", status="lost", created=1_800_000_000)
    )

    assert (refund.charge_id, refund.payment_intent_id, refund.amount) == ("ch_1", "pi_1", 700)
    assert (refund.currency, refund.status, refund.reason) == ("EUR", "pending", "duplicate")
    assert (dispute.charge_id, dispute.payment_intent_id, dispute.amount) == ("ch_1", None, 2500)
    assert (dispute.status, dispute.reason) == ("lost", "fraudulent")
    assert dispute.created == gateway.timestamp(1_800_000_000)


def test_gateway_reads_stripes_own_fixture_objects(resources):
    intent = gateway.intent_from_object(resources["payment_intent"])
    charge = gateway.charge_from_object(resources["charge"])
    refund = gateway.refund_from_object(resources["refund"])
    dispute = gateway.dispute_from_object(resources["dispute"])

    assert (intent.id, intent.amount, intent.currency) == (
        "pi_1PgafyB7WZ01zgkWSjxsAJo3",
        1099,
        "USD",
    )
    assert (intent.charge_id, intent.customer_id) == (None, None)
    # The fixture's last_payment_error has a type only (no code): our sentence for any error.
    assert resources["payment_intent"]["last_payment_error"] == {"type": "idempotency_error"}
    assert intent.error_message == gateway.CARD_MESSAGES["_default"]
    assert (charge.id, charge.amount, charge.currency) == (
        "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        100,
        "USD",
    )
    assert (charge.fee, charge.email) == (None, None)  # balance_transaction not expanded
    assert (refund.charge_id, refund.amount, refund.status) == (charge.id, 100, "succeeded")
    assert refund.reason == ""
    assert (dispute.charge_id, dispute.amount, dispute.status) == (
        charge.id,
        1000,
        "warning_needs_response",
    )
    assert dispute.created == gateway.timestamp(1234567890)


def test_gateway_reads_a_current_shape_payment_method_and_stripes_own(resources):
    built = payloads.payment_method(fingerprint="4f1a2b3c4d5e6f70")
    built["customer"] = "cus_9"

    entered = payment_method_from_object(built)
    stripes = payment_method_from_object(resources["payment_method"])

    assert (entered.id, entered.card_fingerprint, entered.customer_id) == (
        built["id"],
        "4f1a2b3c4d5e6f70",
        "cus_9",
    )
    assert (stripes.id, stripes.card_fingerprint, stripes.customer_id) == (
        "pm_1Pgc75B7WZ01zgkWlHVgdEGJ",
        "AOB934RVNwzk6xtn",
        None,
    )


def test_gateway_reads_a_current_shape_invoice_its_subscription_and_paying_intent():
    read = gateway.invoice_from_object
    built = payloads.invoice(
        customer="cus_9",
        subscription="sub_9",
        amount=500,
        currency="usd",
        service_end=1_800_000_000,
        subscription_metadata={"patronage_membership": "7"},
        payments=[
            payloads.invoice_payment(payment_intent="pi_old", status="canceled"),
            payloads.invoice_payment(payment_intent="pi_9", amount=500),
        ],
    )

    invoice = read(built)
    bare = read(payloads.invoice(subscription="sub_9"))  # as webhooks send it

    assert (invoice.id, invoice.status, invoice.customer_id) == (built["id"], "paid", "cus_9")
    assert (invoice.subscription_id, invoice.payment_intent_id) == ("sub_9", "pi_9")
    assert (invoice.amount_paid, invoice.amount_due, invoice.currency) == (500, 500, "USD")
    assert invoice.billing_reason == "subscription_cycle"
    assert invoice.period_end == gateway.timestamp(1_800_000_000)
    assert invoice.subscription_metadata == {"patronage_membership": "7"}
    assert (bare.subscription_id, bare.payment_intent_id) == ("sub_9", None)


def test_gateway_reads_a_current_shape_subscription_with_its_period_on_the_item():
    read = gateway.subscription_from_object
    built = payloads.subscription(
        customer="cus_9",
        price="price_9",
        amount=1200,
        currency="usd",
        interval="year",
        current_period_end=1_800_000_000,
        cancel_at_period_end=True,
        latest_invoice="in_9",
    )

    subscription = read(built)

    assert (subscription.id, subscription.status, subscription.customer_id) == (
        built["id"],
        "active",
        "cus_9",
    )
    assert (subscription.amount, subscription.currency, subscription.interval) == (
        1200,
        "USD",
        "year",
    )
    assert subscription.plan_id == "price_9"
    assert subscription.item_id == built["items"]["data"][0]["id"]
    assert subscription.current_period_end == gateway.timestamp(1_800_000_000)
    assert subscription.cancel_at_period_end is True
    assert subscription.latest_invoice_id == "in_9"


def test_gateway_reads_stripes_own_fixture_invoice_and_subscription(resources):
    invoice = gateway.invoice_from_object(resources["invoice"])
    subscription = gateway.subscription_from_object(resources["subscription"])

    assert (invoice.id, invoice.subscription_id, invoice.amount_due) == (
        "in_1Pgc6tB7WZ01zgkWu9fdqL6I",
        "subscription",
        1000,
    )
    assert invoice.period_end == gateway.timestamp(1721954054)
    assert (subscription.id, subscription.plan_id, subscription.amount) == (
        "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw",
        "price_1PgafmB7WZ01zgkW6dKueIc5",
        2000,
    )
    assert subscription.current_period_end == gateway.timestamp(976287773)


def test_the_card_a_declined_check_names_is_a_payment_method_as_stripe_has_it(resources):
    """`last_setup_error.payment_method` and `last_payment_error.payment_method` are left out
    of Stripe's fixtures: the card inside them is checked against the payment method's."""
    declined = {
        "setup_intent": payloads.setup_intent(error="Declined.", card="4f1a2b3c4d5e6f70"),
        "payment_intent": payloads.payment_intent(
            status="requires_payment_method", error="Declined.", card="4f1a2b3c4d5e6f70"
        ),
    }
    for name, error_key in (
        ("setup_intent", "last_setup_error"),
        ("payment_intent", "last_payment_error"),
    ):
        method = declined[name][error_key]["payment_method"]
        problems = unknown_keys(method, resources["payment_method"], "payment_method", resources)
        assert problems == [], name
        assert method["card"]["fingerprint"] == "4f1a2b3c4d5e6f70"
