"""Every field the gateway's parsers read exists in the pinned API version, or is declared
as the emulator's older shape (read only as a fallback).

Each parser (`*_from_object`) runs on payloads in the current
shape (the project's builders, Stripe's own examples in `../shared`) and in the
emulator's older shapes (real localstripe answers, and older variants made from
them), wrapped so that every key read is recorded (tests/support/stripe_fields.py).
Each path read must be declared by the installed `stripe` library's resource
classes, or listed in the gateway's `EMULATOR_ONLY_FIELDS`; and that list must
stay honest: nothing in it that the pinned API has, nothing no parser reads.
"""

import contextlib
import copy
import inspect
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import stripe
from django.conf import settings

from payments import stripe_gateway as gateway
from payments.stripe_gateway import parsing
from tests.support import stripe_payloads as payloads
from tests.support.stripe_fields import Trace, declared, traced, undeclared
from tests.support.stripejs import (
    CARD_DECLINED_AT_SETUP,
    CARD_DECLINED_ON_CHARGE,
    CARD_OK,
    confirm_card_setup,
    create_payment_method,
)

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared/stripe/fixtures3.json"

# What the gateway reads only from the emulator's older shape, until it declares its own list.
PROPOSED_EMULATOR_ONLY_FIELDS: dict[str, frozenset[str]] = {
    "payment_intent": frozenset({"charges", "charges.data"}),
    "invoice": frozenset({"payment_intent", "subscription", "charge"}),
    "subscription": frozenset(
        {
            "current_period_end",
            "plan",
            "plan.unit_amount",
            "plan.recurring",
            "items.data.plan.unit_amount",
            "items.data.plan.recurring",
        }
    ),
}
EMULATOR_ONLY_FIELDS: dict[str, frozenset[str]] = getattr(
    gateway, "EMULATOR_ONLY_FIELDS", PROPOSED_EMULATOR_ONLY_FIELDS
)

# Parsers whose name does not say the object type they read.
OBJECT_TYPE_OF = {"intent_from_object": "payment_intent"}


def parsers() -> dict[str, Callable[[dict], object]]:
    """Every parser of the gateway, by name: those it exports, and those only its own
    modules call (`payment_method_from_object`, behind `retrieve_payment_method`)."""
    found = {}
    for module in (gateway, parsing):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__.startswith(f"{gateway.__name__}.") and (
                name.endswith("_from_object") or name in OBJECT_TYPE_OF
            ):
                found[name] = function
    return found


def object_type(parser_name: str) -> str:
    """The object type a parser reads, from its name."""
    return OBJECT_TYPE_OF.get(parser_name, parser_name.removesuffix("_from_object"))


PARSER_FUNCTIONS = parsers()
PARSERS = {name: object_type(name) for name in PARSER_FUNCTIONS}
OBJECT_TYPES = sorted(set(PARSERS.values()))
UNREADABLE = getattr(gateway, "UnreadableObject", ())  # a parser that refuses an old shape

Payloads = dict[str, list[tuple[str, dict]]]  # object type -> [(label, payload)]


# --- Payloads -----------------------------------------------------------------------


def current_shape_payloads() -> Payloads:
    """The project's builders, with every optional part once filled in (expanded, erring...)."""
    now = payloads.now()
    intent_id = payloads.new_id("pi")
    expanded_charge = payloads.charge(
        payment_intent=intent_id,
        email="reader@example.org",
        balance_transaction=payloads.balance_transaction(fee=59),
    )
    canceled = payloads.subscription(status="canceled")
    canceled.update(canceled_at=now, ended_at=now)
    setup_id = payloads.new_id("seti")
    attached_card = payloads.payment_method()
    attached_card["customer"] = {"id": payloads.new_id("cus"), "object": "customer"}
    return {
        "payment_intent": [
            ("charge as an id", payloads.payment_intent(id=intent_id)),
            ("charge expanded", payloads.payment_intent(latest_charge=expanded_charge)),
            ("declined", payloads.payment_intent(status="requires_payment_method", error="No.")),
            (
                "declined, naming the card",
                payloads.payment_intent(
                    status="requires_payment_method", error="No.", card="4f1a2b3c4d5e6f70"
                ),
            ),
        ],
        "charge": [
            ("balance transaction as an id", payloads.charge()),
            ("balance transaction expanded", expanded_charge),
        ],
        "refund": [("refund", payloads.refund(payment_intent=intent_id, reason="duplicate"))],
        "dispute": [("dispute", payloads.dispute(payment_intent=intent_id))],
        "invoice": [
            ("as webhooks send it", payloads.invoice()),
            (
                "with its payments",
                payloads.invoice(
                    payments=[
                        payloads.invoice_payment(status="canceled"),
                        payloads.invoice_payment(payment_intent=intent_id),
                    ]
                ),
            ),
        ],
        "subscription": [("active", payloads.subscription()), ("canceled", canceled)],
        "payment_method": [
            ("entered in the page", payloads.payment_method()),
            ("attached, customer expanded", attached_card),
        ],
        "setup_intent": [
            (
                "succeeded",
                {
                    "id": setup_id,
                    "object": "setup_intent",
                    "client_secret": f"{setup_id}_secret_x",
                    "created": now,
                    "customer": payloads.new_id("cus"),
                    "livemode": False,
                    "metadata": {},
                    "payment_method": payloads.new_id("pm"),
                    "status": "succeeded",
                    "usage": "off_session",
                },
            ),
            (
                "card expanded",
                payloads.setup_intent(
                    status="succeeded",
                    payment_method=payloads.payment_method(),
                    metadata={"k": "v"},
                ),
            ),
            (
                "declined at setup",
                payloads.setup_intent(error="Declined.", card="4f1a2b3c4d5e6f70"),
            ),
        ],
    }


def stripe_example_payloads() -> Payloads:
    """Stripe's own example of each object (fixtures3.json), or nothing without ../shared."""
    if not FIXTURES.exists():
        return {}
    resources = json.loads(FIXTURES.read_text())["resources"]
    return {
        kind: [("fixtures3.json", resources[kind])] for kind in OBJECT_TYPES if kind in resources
    }


def emulator_payloads() -> Payloads:
    """What localstripe answers for each object, and older variants made from its answers."""
    client = gateway.client()
    once = {"idempotency_key": f"fields-{uuid.uuid4()}"}
    customer = client.v1.customers.create(
        params={"email": f"fields-{uuid.uuid4().hex[:8]}@example.org"}, options=once
    )

    def card(number: str) -> str:
        method = client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        )
        client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
        return method.id

    paying = card(CARD_OK)
    gift = {"amount": 1200, "currency": "eur", "customer": customer.id, "metadata": {"k": "v"}}
    intent = client.v1.payment_intents.create(
        params={**gift, "payment_method": paying, "confirm": True}
    ).to_dict()
    declined = client.v1.payment_intents.create(
        params={**gift, "payment_method": card(CARD_DECLINED_ON_CHARGE)}
    )
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(declined.id)
    latest = intent.get("latest_charge") or intent["charges"]["data"][0]
    charge_id = latest["id"] if isinstance(latest, dict) else latest
    charge = client.v1.charges.retrieve(charge_id, params={"expand": ["balance_transaction"]})
    refund = client.v1.refunds.create(params={"payment_intent": intent["id"], "amount": 200})
    entered = client.v1.payment_methods.retrieve(create_payment_method(CARD_OK))
    attached = client.v1.payment_methods.retrieve(paying)
    setup = client.v1.setup_intents.create(params={"customer": customer.id, "usage": "off_session"})
    declined_setup = client.v1.setup_intents.create(params={"customer": customer.id})
    confirm_card_setup(declined_setup.client_secret, CARD_DECLINED_AT_SETUP)
    declined_setup = client.v1.setup_intents.retrieve(declined_setup.id)

    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": paying}}
    )
    plan = client.v1.plans.create(
        params={
            "id": f"fields-{uuid.uuid4().hex[:8]}",
            "amount": 500,
            "currency": "eur",
            "interval": "month",
            "product": {"name": "Fields"},
        }
    )
    subscription = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"plan": plan.id}]}
    ).to_dict()
    invoice = client.v1.invoices.retrieve(
        subscription["latest_invoice"], params={"expand": ["payments"]}
    ).to_dict()

    def without(obj: dict, *keys: str) -> dict:
        return {key: value for key, value in copy.deepcopy(obj).items() if key not in keys}

    older_dispute = without(payloads.dispute(charge=charge_id), "payment_intent")
    return {
        "payment_intent": [
            ("localstripe, succeeded", intent),
            ("localstripe, declined", client.v1.payment_intents.retrieve(declined.id).to_dict()),
            ("before 2022-11-15: charges only", without(intent, "latest_charge")),
        ],
        "charge": [("localstripe, expanded", charge.to_dict())],
        "payment_method": [
            ("localstripe, made with the publishable key", entered.to_dict()),
            ("localstripe, attached", attached.to_dict()),
        ],
        "refund": [("localstripe", refund.to_dict())],
        "setup_intent": [
            ("localstripe", setup.to_dict()),
            ("localstripe, declined at setup", declined_setup.to_dict()),
        ],
        "subscription": [
            ("localstripe", subscription),
            ("before 2018: one plan, no items", without(subscription, "items")),
        ],
        "invoice": [
            ("localstripe, with payments", invoice),
            ("before 2025-03-31", without(invoice, "parent", "payments")),
            ("before 2019: date, no created", without(invoice, "parent", "payments", "created")),
        ],
        "dispute": [("before PaymentIntents", older_dispute)],
    }


# --- Tracing the parsers ------------------------------------------------------------


def trace(parser: Callable[[dict], object], payload: dict) -> Trace:
    """What `parser` reads from `payload`. A parser may refuse a shape it cannot read."""
    reads = Trace()
    with contextlib.suppress(UNREADABLE):
        parser(traced(copy.deepcopy(payload), reads))
    return reads


def unaccounted(object_type: str, payloads_of: Payloads) -> list[str]:
    """Each read of this object type's parsers that is neither declared nor emulator-only."""
    allowed = frozenset(EMULATOR_ONLY_FIELDS.get(object_type, ()))
    found = []
    for name, kind in PARSERS.items():
        if kind != object_type:
            continue
        for label, payload in payloads_of.get(object_type, []):
            reads = trace(PARSER_FUNCTIONS[name], payload)
            for path in sorted(reads.reads):
                missing = undeclared(object_type, path, allowed=allowed, objects=reads.objects)
                if missing:
                    found.append(
                        f"{object_type}.{missing} (read by {name} from {label!r}): "
                        f"not in stripe {stripe.VERSION}'s {object_type} "
                        f"(API {stripe.api_version}) nor in EMULATOR_ONLY_FIELDS"
                    )
    return sorted(set(found))


@pytest.fixture(scope="module")
def emulator(localstripe) -> Payloads:
    return emulator_payloads()


@pytest.fixture(scope="module")
def examples() -> Payloads:
    if not FIXTURES.exists():
        pytest.skip(f"Stripe's fixtures not found at {FIXTURES} (../shared is absent here)")
    return stripe_example_payloads()


def all_reads(*sources: Payloads) -> dict[str, set[str]]:
    """Object type -> every dotted path its parsers read from these payloads."""
    reads: dict[str, set[str]] = {kind: set() for kind in OBJECT_TYPES}
    for source in sources:
        for name, kind in PARSERS.items():
            for _, payload in source.get(kind, []):
                reads[kind] |= trace(PARSER_FUNCTIONS[name], payload).dotted()
    return reads


# --- Tests --------------------------------------------------------------------------


def test_every_parser_is_fed_current_shape_and_emulator_shape_payloads(emulator):
    assert {
        "intent_from_object",
        "invoice_from_object",
        "setup_intent_from_object",
        "payment_method_from_object",
    } <= PARSERS.keys()
    current = current_shape_payloads()
    for name, kind in PARSERS.items():
        assert current.get(kind), f"{name}: no current-shape {kind} payload here"
        assert emulator.get(kind), f"{name}: no emulator-shape {kind} payload here"


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
def test_fields_read_from_current_shape_payloads_are_in_the_pinned_api(object_type):
    assert unaccounted(object_type, current_shape_payloads()) == []


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
def test_fields_read_from_stripes_own_examples_are_in_the_pinned_api(object_type, examples):
    if object_type not in examples:
        pytest.skip(f"fixtures3.json has no {object_type}")
    assert unaccounted(object_type, examples) == []


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
def test_fields_read_from_emulator_payloads_are_in_the_pinned_api_or_emulator_only(
    object_type, emulator
):
    assert unaccounted(object_type, emulator) == []


def test_emulator_only_fields_are_not_in_the_pinned_api():
    """Once the library declares a field, reading it is no longer a fallback: drop it."""
    in_the_api = [
        f"{kind}.{path}"
        for kind, paths in EMULATOR_ONLY_FIELDS.items()
        for path in sorted(paths)
        if declared(kind, path)
    ]

    assert in_the_api == []


def test_emulator_only_fields_are_all_read_by_a_parser(emulator):
    """A fallback no parser reads any more is dead weight in the list: drop it."""
    reads = all_reads(current_shape_payloads(), emulator)
    unread = [
        f"{kind}.{path}"
        for kind, paths in EMULATOR_ONLY_FIELDS.items()
        for path in sorted(paths)
        if path not in reads.get(kind, set())
    ]

    assert unread == []


def test_the_tracer_records_reads_by_get_index_and_in_with_list_items_under_their_list():
    reads = Trace()
    invoice = traced(
        {
            "object": "invoice",
            "lines": {"data": [{"period": {"end": 1}}, {"period": {"end": 2}}]},
            "parent": None,
            "charge": {"object": "charge", "id": "ch_1"},
        },
        reads,
    )

    ends = [line["period"]["end"] for line in invoice["lines"].get("data")]
    invoice.get("parent")
    _ = "subscription" in invoice
    assert invoice.get("charge")["id"] == "ch_1"

    assert ends == [1, 2]
    assert reads.dotted() == {
        "lines",
        "lines.data",
        "lines.data.period",
        "lines.data.period.end",
        "parent",
        "subscription",
        "charge",
        "charge.id",
    }
    assert reads.objects[("charge",)] == {"charge"}


def test_paths_are_walked_through_nested_classes_lists_and_expandable_fields():
    assert declared("invoice", "parent.subscription_details.subscription")
    assert declared("invoice", "payments.data.payment.payment_intent")
    assert declared("invoice", "lines.data.period.end")
    assert declared("payment_intent", "latest_charge.balance_transaction.fee")
    assert declared("subscription", "items.data.price.recurring.interval")
    assert declared("subscription", "metadata.anything")
    assert not declared("payment_intent", "latest_charge.balance_transaction.fees")
    assert not declared("invoice", "subscription")
    assert not declared("subscription", "items.data.plan.unit_amount")


def test_under_an_emulator_only_field_the_walk_resumes_at_the_resource_the_payload_names():
    allowed = frozenset({"charges", "charges.data"})
    objects = {("charges",): {"list"}, ("charges", "data"): {"charge"}}

    def check(path: str) -> str | None:
        return undeclared(
            "payment_intent", tuple(path.split(".")), allowed=allowed, objects=objects
        )

    assert check("charges.data.balance_transaction.fee") is None
    assert check("charges.data.colour") == "charges.data.colour"
    assert check("charges.has_more") == "charges.has_more"  # not a known list below `charges`
    assert undeclared("payment_intent", ("charges", "data")) == "charges"


def test_the_library_definitions_describe_the_api_version_the_project_pins():
    assert stripe.api_version == getattr(settings, "STRIPE_API_VERSION", stripe.api_version)
