"""The Stripe object readers (`payments.stripe_gateway.*_from_object`), without Stripe.

tests/test_stripe_payloads.py reads each current-shape object once; here are the
branches: the emulator's older shapes, expanded ids, which invoice payment counts,
quantities, missing optional fields, card errors told in our words (never Stripe's),
and the loud failure on an object in a shape our API version never sends.
"""

from datetime import UTC, datetime

import pytest

from payments import stripe_gateway as gateway
from payments.stripe_gateway.parsing import payment_method_from_object
from tests.support import stripe_payloads as payloads

UnreadableObject = gateway.UnreadableObject
T = 1_800_000_000


def test_timestamps_are_aware_utc_datetimes():
    assert gateway.timestamp(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert gateway.timestamp(T).tzinfo is UTC


# --- SetupIntent --------------------------------------------------------------------------


def test_a_declined_setup_names_the_card_it_tried_and_why_in_our_words():
    built = payloads.setup_intent(error="Your card was declined.", card="fp_declined")
    tried = built["last_setup_error"]["payment_method"]

    setup = gateway.setup_intent_from_object(built)

    assert (setup.status, setup.payment_method_id) == ("requires_payment_method", None)
    assert setup.error_message == gateway.card_message("card_declined")
    assert setup.failed_payment_method_id == tried["id"]
    assert setup.card_fingerprint == "fp_declined"
    assert setup.client_secret == built["client_secret"]


def test_a_setup_declined_for_a_reason_the_bank_gives_says_that_reason():
    built = payloads.setup_intent(error="Declined.", decline_code="lost_card")

    setup = gateway.setup_intent_from_object(built)

    assert setup.error_message == gateway.card_message("card_declined", "lost_card")


def test_a_setup_whose_3d_secure_failed_says_so_in_our_words_not_stripes():
    stripes = (
        "The latest attempt to set up the payment method has failed because authentication failed."
    )
    built = payloads.setup_intent(error=stripes)
    built["last_setup_error"]["code"] = "setup_intent_authentication_failure"

    setup = gateway.setup_intent_from_object(built)

    assert setup.error_message == gateway.card_message("setup_intent_authentication_failure")
    assert "3-D Secure" in setup.error_message
    assert stripes not in setup.error_message


def test_a_confirmed_setup_reads_its_card_when_expanded_and_only_its_id_otherwise():
    method = payloads.payment_method(fingerprint="fp_ok")
    expanded = gateway.setup_intent_from_object(
        payloads.setup_intent(status="succeeded", payment_method=method, metadata={"a": "1"})
    )
    bare = gateway.setup_intent_from_object(
        payloads.setup_intent(status="succeeded", payment_method=method["id"])
    )

    assert (expanded.payment_method_id, expanded.card_fingerprint) == (method["id"], "fp_ok")
    assert expanded.card == gateway.CardInfo(brand="visa", last4="0002")
    assert expanded.metadata == {"a": "1"}
    assert (bare.payment_method_id, bare.card_fingerprint, bare.card) == (method["id"], None, None)
    assert (bare.error_message, bare.failed_payment_method_id) == (None, None)


def test_a_setup_without_its_client_secret_reads_as_an_empty_one():
    built = payloads.setup_intent()
    built["client_secret"] = None
    assert gateway.setup_intent_from_object(built).client_secret == ""


# --- PaymentIntent ------------------------------------------------------------------------


def test_a_payment_intent_in_the_emulators_shape_reads_its_charge_from_the_charges_list():
    charge = payloads.charge(amount=900, currency="gbp")
    built = payloads.payment_intent(amount=900, currency="gbp")
    del built["latest_charge"]
    built["charges"] = {"object": "list", "data": [charge]}

    intent = gateway.intent_from_object(built)

    assert intent.charge_id == charge["id"]
    assert (intent.charge.amount, intent.charge.currency) == (900, "GBP")


def test_a_payment_intent_with_an_empty_charges_list_has_no_charge():
    built = payloads.payment_intent(status="requires_payment_method")
    del built["latest_charge"]
    built["charges"] = {"object": "list", "data": []}

    intent = gateway.intent_from_object(built)

    assert (intent.charge_id, intent.charge) == (None, None)


def test_a_declined_payment_names_its_error_code_the_card_it_tried_and_why_in_our_words():
    built = payloads.payment_intent(
        status="requires_payment_method", error="Your card has insufficient funds.", card="fp_poor"
    )
    built["last_payment_error"]["code"] = "insufficient_funds"
    built["customer"] = {"id": "cus_expanded", "object": "customer"}

    intent = gateway.intent_from_object(built)

    assert intent.error_code == "insufficient_funds"
    assert intent.error_message == gateway.card_message("insufficient_funds")
    assert "Your card has insufficient funds." not in intent.error_message
    assert intent.card_fingerprint == "fp_poor"
    assert intent.customer_id == "cus_expanded"  # expanded ids read as ids
    assert intent.charge_id is None


def test_a_payment_intent_without_metadata_or_customer_reads_as_empty():
    built = payloads.payment_intent()
    built["metadata"] = None

    intent = gateway.intent_from_object(built)

    assert (intent.metadata, intent.customer_id, intent.error_code) == ({}, None, None)


def test_a_bank_decline_code_says_more_than_the_error_code():
    built = payloads.payment_intent(
        status="requires_payment_method", error="Declined.", decline_code="expired_card"
    )

    intent = gateway.intent_from_object(built)

    assert intent.error_code == "card_declined"
    assert intent.error_message == gateway.card_message("expired_card")
    assert intent.error_message != gateway.card_message("card_declined")


def test_a_payment_error_we_have_no_sentence_for_reads_as_the_default_one():
    built = payloads.payment_intent(status="requires_payment_method", error="Something new.")
    built["last_payment_error"]["code"] = "a_code_stripe_adds_later"

    intent = gateway.intent_from_object(built)

    assert intent.error_message == gateway.CARD_MESSAGES["_default"]
    assert intent.error_code == "a_code_stripe_adds_later"  # kept as Stripe sent it


def test_a_payment_intent_without_an_error_has_no_message():
    assert gateway.intent_from_object(payloads.payment_intent()).error_message is None
    built = payloads.payment_intent(status="requires_action")
    built["last_payment_error"] = {}
    assert gateway.intent_from_object(built).error_message is None


# --- PaymentMethod (the card a page entered) ---------------------------------------------


def test_a_card_entered_in_the_page_reads_its_id_fingerprint_brand_and_last_four():
    built = payloads.payment_method(fingerprint="fp_entered")

    card = payment_method_from_object(built)

    assert card == gateway.PaymentMethodInfo(
        id=built["id"],
        card_fingerprint="fp_entered",
        customer_id=None,
        card=gateway.CardInfo(brand="visa", last4="0002"),
    )


def test_a_payment_method_without_a_card_reads_no_card():
    built = payloads.payment_method()
    del built["card"]

    assert payment_method_from_object(built).card is None


def test_a_card_attached_to_a_customer_reads_the_customer_as_an_id_or_expanded():
    attached = payloads.payment_method()
    attached["customer"] = "cus_owner"
    expanded = payloads.payment_method()
    expanded["customer"] = {"id": "cus_expanded", "object": "customer"}

    assert payment_method_from_object(attached).customer_id == "cus_owner"
    assert payment_method_from_object(expanded).customer_id == "cus_expanded"


def test_a_payment_method_with_no_card_or_no_fingerprint_has_no_fingerprint():
    no_card = payloads.payment_method()
    no_card.update(type="sepa_debit", card=None)
    blank = payloads.payment_method()
    blank["card"]["fingerprint"] = ""

    assert payment_method_from_object(no_card).card_fingerprint is None
    assert payment_method_from_object(blank).card_fingerprint is None


def test_a_payment_method_without_its_id_is_refused_loudly():
    built = payloads.payment_method()
    del built["id"]

    with pytest.raises(UnreadableObject, match="payment_method None lacks id"):
        payment_method_from_object(built)


# --- Charge, refund, dispute --------------------------------------------------------------


def test_a_charge_email_comes_from_billing_details_or_else_the_receipt_email():
    billed = payloads.charge(email="billed@example.org")
    receipt_only = payloads.charge()
    receipt_only["receipt_email"] = "receipt@example.org"

    assert gateway.charge_from_object(billed).email == "billed@example.org"
    assert gateway.charge_from_object(receipt_only).email == "receipt@example.org"


def test_a_fee_not_settled_yet_reads_as_unknown_not_zero():
    transaction = payloads.balance_transaction(amount=2500, fee=0)
    transaction["fee"] = None  # settled later, as charge.updated will say

    charge = gateway.charge_from_object(payloads.charge(balance_transaction=transaction))

    assert (charge.fee, charge.net) == (None, None)


def test_a_zero_fee_is_a_known_fee():
    transaction = payloads.balance_transaction(amount=2500, fee=0)
    charge = gateway.charge_from_object(payloads.charge(balance_transaction=transaction))
    assert (charge.fee, charge.net) == (0, 2500)


def test_a_charge_reads_its_expanded_payment_intent_and_a_missing_refund_total_as_zero():
    built = payloads.charge(payment_intent="pi_x")
    built["payment_intent"] = {"id": "pi_x", "object": "payment_intent"}
    built["amount_refunded"] = None

    charge = gateway.charge_from_object(built)

    assert (charge.payment_intent_id, charge.amount_refunded) == ("pi_x", 0)


def test_a_refund_without_status_or_reason_is_pending_with_no_reason():
    built = payloads.refund(amount=300, currency="usd")
    built["status"] = None

    refund = gateway.refund_from_object(built)

    assert (refund.status, refund.reason, refund.currency, refund.amount) == (
        "pending",
        "",
        "USD",
        300,
    )


def test_a_dispute_on_a_payment_intent_reads_both_ids():
    dispute = gateway.dispute_from_object(
        payloads.dispute(charge="ch_d", payment_intent="pi_d", status="warning_needs_response")
    )
    assert (dispute.charge_id, dispute.payment_intent_id) == ("ch_d", "pi_d")
    assert dispute.status == "warning_needs_response"


# --- Subscription -------------------------------------------------------------------------


def test_a_subscription_amount_is_the_unit_amount_times_the_quantity():
    built = payloads.subscription(amount=500, currency="eur")
    built["items"]["data"][0]["quantity"] = 3

    assert gateway.subscription_from_object(built).amount == 1500


def test_a_subscription_in_the_emulators_shape_reads_its_plan_and_top_level_period():
    built = payloads.subscription()
    item = built["items"]["data"][0]
    del item["price"], item["current_period_end"]
    item["plan"] = {"id": "plan_x", "amount": 1200, "currency": "usd", "interval": "year"}
    built["current_period_end"] = T

    subscription = gateway.subscription_from_object(built)

    assert (subscription.plan_id, subscription.amount, subscription.currency) == (
        "plan_x",
        1200,
        "USD",
    )
    assert subscription.interval == "year"
    assert subscription.current_period_end == gateway.timestamp(T)


def test_a_subscription_without_items_falls_back_to_its_top_level_plan():
    built = payloads.subscription(currency="gbp")
    del built["items"]
    built["plan"] = {"id": "plan_top", "amount": 700, "interval": "month"}

    subscription = gateway.subscription_from_object(built)

    assert (subscription.plan_id, subscription.amount, subscription.interval) == (
        "plan_top",
        700,
        "month",
    )
    assert subscription.currency == "GBP"  # the subscription's own, the plan has none
    assert (subscription.item_id, subscription.current_period_end) == (None, None)


def test_an_ended_subscription_reads_when_it_was_canceled_and_ended():
    built = payloads.subscription(status="canceled", metadata={"patronage_membership": "9"})
    built["canceled_at"], built["ended_at"] = T, T + 60

    subscription = gateway.subscription_from_object(built)

    assert subscription.canceled_at == gateway.timestamp(T)
    assert subscription.ended_at == gateway.timestamp(T + 60)
    assert subscription.metadata == {"patronage_membership": "9"}
    assert subscription.cancel_at_period_end is False


# --- Invoice: which of its payments counts ---------------------------------------------------


def invoice_paid_by(*payments: dict) -> dict:
    return payloads.invoice(payments=list(payments))


def payment(intent: str, status: str, *, default: bool) -> dict:
    built = payloads.invoice_payment(payment_intent=intent, status=status)
    built["is_default"] = default
    return built


@pytest.mark.parametrize(
    ("listed", "counted"),
    [
        # (payment intent, status, is_default) in Stripe's order; the paid one wins
        ([("pi_open", "open", True), ("pi_paid", "paid", False)], "pi_paid"),
        # no paid one: the default
        ([("pi_default", "open", True), ("pi_other", "open", False)], "pi_default"),
        # neither: the newest
        ([("pi_first", "open", False), ("pi_newest", "open", False)], "pi_newest"),
        # canceled attempts never count
        ([("pi_canceled", "canceled", True), ("pi_open", "open", False)], "pi_open"),
        ([("pi_canceled", "canceled", True)], None),
    ],
)
def test_the_invoice_payment_that_counts(listed, counted):
    built = invoice_paid_by(*(payment(*item[:2], default=item[2]) for item in listed))

    invoice = gateway.invoice_from_object(built)

    assert invoice.payment_intent_id == counted
    assert invoice.payments_included is True


def test_an_invoice_paid_by_a_charge_alone_names_the_charge():
    paid = payloads.invoice_payment()
    paid["payment"] = {"type": "charge", "charge": "ch_old"}

    invoice = gateway.invoice_from_object(invoice_paid_by(paid))

    assert (invoice.payment_intent_id, invoice.charge_id) == (None, "ch_old")


def test_an_invoice_in_the_emulators_shape_reads_its_top_level_ids():
    built = payloads.invoice()
    del built["parent"]
    built.update(subscription="sub_emu", payment_intent="pi_emu", charge="ch_emu")

    invoice = gateway.invoice_from_object(built)

    assert (invoice.subscription_id, invoice.payment_intent_id, invoice.charge_id) == (
        "sub_emu",
        "pi_emu",
        "ch_emu",
    )
    assert invoice.payments_included is False
    assert invoice.subscription_metadata == {}


def test_an_invoice_service_period_ends_with_its_latest_line():
    built = payloads.invoice(service_end=T)
    later = dict(built["lines"]["data"][0], period={"start": T, "end": T + 86400})
    no_period = dict(built["lines"]["data"][0], period=None)
    built["lines"]["data"] += [later, no_period]

    assert gateway.invoice_from_object(built).period_end == gateway.timestamp(T + 86400)


def test_an_open_invoice_has_no_paid_time_and_a_draft_may_lack_status_and_amounts():
    open_invoice = gateway.invoice_from_object(payloads.invoice(status="open", amount=800))
    draft = payloads.invoice()
    draft.update(status=None, amount_paid=None, amount_due=None, currency=None)
    draft["lines"]["data"] = []

    read = gateway.invoice_from_object(draft)

    assert (open_invoice.paid_at, open_invoice.amount_paid, open_invoice.amount_due) == (
        None,
        0,
        800,
    )
    assert (read.status, read.amount_paid, read.amount_due, read.currency) == ("", 0, 0, "")
    assert read.period_end is None


# --- Objects in a shape we cannot read ------------------------------------------------------


@pytest.mark.parametrize(
    ("reader", "builder", "field"),
    [
        (gateway.setup_intent_from_object, payloads.setup_intent, "status"),
        (gateway.intent_from_object, payloads.payment_intent, "amount"),
        (gateway.intent_from_object, payloads.payment_intent, "currency"),
        (gateway.charge_from_object, payloads.charge, "created"),
        (gateway.refund_from_object, payloads.refund, "amount"),
        (gateway.dispute_from_object, payloads.dispute, "created"),
        (gateway.subscription_from_object, payloads.subscription, "status"),
        (gateway.invoice_from_object, payloads.invoice, "amount_due"),
        (gateway.invoice_from_object, payloads.invoice, "created"),
    ],
)
def test_an_object_missing_a_field_every_object_has_is_refused_loudly(reader, builder, field):
    built = builder()
    del built[field]

    with pytest.raises(UnreadableObject) as refused:
        reader(built)

    message = str(refused.value)
    assert f"{built['object']} {built['id']} lacks {field}" in message
    assert "not in the shape of API version" in message


def test_every_missing_field_is_named_at_once():
    built = payloads.charge()
    del built["amount"], built["currency"]

    with pytest.raises(UnreadableObject, match="lacks amount, currency"):
        gateway.charge_from_object(built)
