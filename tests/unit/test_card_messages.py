"""What a reader is told when a card does not work: `card_message`, in our words.

Stripe reports a card error with a `code` (`card_declined`, `expired_card`,
`payment_intent_authentication_failure`...) and, for some declines, the bank's
`decline_code`; its own `message` is written for developers. The gateway and the
page (Stripe.js errors, through the page data's `cardMessages`) both tell the
reader one of CARD_MESSAGES instead (payments/stripe_gateway/errors.py).
"""

import re

import pytest

from payments import stripe_gateway as gateway
from payments.pages import stripe_page
from payments.stripe_gateway.errors import DECLINED, card_message

MESSAGES = gateway.CARD_MESSAGES
DEFAULT = MESSAGES["_default"]


# --- Known codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decline_code", "says"),
    [
        ("insufficient_funds", "does not have enough funds"),
        ("card_velocity_exceeded", "reached its spending limit"),
        ("expired_card", "Your card has expired"),
        ("incorrect_cvc", "security code (CVC) is not right"),
        ("incorrect_number", "card number is not right"),
        ("processing_error", "could not process the card just now"),
        ("incorrect_zip", "postcode does not match"),
        ("card_not_supported", "cannot be used for this payment"),
        ("currency_not_supported", "cannot pay in this currency"),
        ("generic_decline", "Your card was declined."),
        ("do_not_honor", "Your card was declined."),
    ],
)
def test_a_known_decline_code_is_told_in_its_own_sentence(decline_code, says):
    told = card_message("card_declined", decline_code)

    assert told == MESSAGES[decline_code]
    assert says in told


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("card_declined", "Your card was declined."),
        ("expired_card", "Your card has expired"),
        ("incorrect_cvc", "security code (CVC) is not right"),
        ("invalid_cvc", "security code (CVC) is not right"),
        ("incorrect_number", "card number is not right"),
        ("invalid_number", "card number is not right"),
        ("invalid_expiry_month", "expiry date is not right"),
        ("invalid_expiry_year", "expiry date is not right"),
        ("invalid_expiry_year_past", "expiry date is in the past"),
        ("processing_error", "You have not been charged"),
        ("authentication_required", "the check was not completed"),
        ("payment_intent_authentication_failure", "(3-D Secure) did not go through"),
        ("setup_intent_authentication_failure", "your card was not saved"),
        # Stripe.js's own codes for a card Element not filled in (createPaymentMethod)
        ("incomplete_number", "Please enter the whole card number."),
        ("incomplete_cvc", "Please enter the card's security code (CVC)."),
        ("incomplete_expiry", "Please enter the card's expiry date."),
        ("incomplete_zip", "Please enter the card's postcode."),
    ],
)
def test_a_known_error_code_is_told_in_its_own_sentence(code, says):
    told = card_message(code)

    assert told == MESSAGES[code]
    assert says in told
    assert told != DEFAULT


def test_a_failed_3d_secure_says_whether_a_payment_or_a_saved_card_failed():
    payment = card_message("payment_intent_authentication_failure")
    setup = card_message("setup_intent_authentication_failure")

    assert payment != setup
    assert "not been charged" in payment
    assert "not saved" in setup


@pytest.mark.parametrize(
    "decline_code",
    [
        "fraudulent",
        "lost_card",
        "stolen_card",
        "pickup_card",
        "restricted_card",
        "security_violation",
    ],
)
def test_a_decline_for_fraud_or_a_lost_card_says_declined_and_nothing_more(decline_code):
    """Whoever holds a stolen card learns no more than any declined reader."""
    told = card_message("card_declined", decline_code)

    assert told == DECLINED == card_message("card_declined")
    assert not re.search(r"fraud|lost|stolen|security|restricted", told, re.IGNORECASE)


# --- Unknown codes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "decline_code"),
    [
        ("a_code_stripe_adds_later", None),
        ("a_code_stripe_adds_later", "a_reason_a_bank_adds_later"),
        (None, None),
        ("", ""),
        (None, "a_reason_a_bank_adds_later"),
        ("invoice_payment_intent_requires_action", None),  # Stripe's, no sentence of ours
        ("_default", None),  # the table's key is not a code
    ],
)
def test_an_unknown_or_missing_code_is_told_the_default_sentence(code, decline_code):
    told = card_message(code, decline_code)

    assert told == DEFAULT
    assert "You have not been charged" in told


def test_the_default_sentence_is_not_one_of_the_coded_ones():
    coded = {message for key, message in MESSAGES.items() if key != "_default"}

    assert DEFAULT not in coded


# --- Which code wins -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "decline_code", "wins"),
    [
        ("card_declined", "insufficient_funds", "insufficient_funds"),
        ("card_declined", "expired_card", "expired_card"),
        ("expired_card", "incorrect_cvc", "incorrect_cvc"),
        ("processing_error", "lost_card", "lost_card"),
    ],
)
def test_the_banks_decline_code_wins_over_the_error_code(code, decline_code, wins):
    assert card_message(code, decline_code) == MESSAGES[wins]
    assert card_message(code, decline_code) != card_message(code)


def test_an_unknown_decline_code_falls_back_to_the_error_codes_sentence():
    assert card_message("card_declined", "a_reason_a_bank_adds_later") == DECLINED
    assert card_message("expired_card", "") == MESSAGES["expired_card"]


# --- Our words, not Stripe's ------------------------------------------------------------------

# Stripe's (and the emulator's) own messages for these codes: sentences for developers,
# or that tell the reader nothing they can do. None may reach a reader.
STRIPES_MESSAGES = {
    "setup_intent_authentication_failure": (
        "The latest attempt to set up the payment method has failed because authentication failed."
    ),
    "payment_intent_authentication_failure": (
        "The provided PaymentMethod has failed authentication. You can provide "
        "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent "
        "again."
    ),
    "authentication_required": (
        "Your card was declined. This transaction requires authentication."
    ),
    "processing_error": (
        "An error occurred while processing your card. Try again in a little bit."
    ),
    "card_velocity_exceeded": (
        "Your card was declined for making repeated attempts too frequently or exceeding its "
        "amount limit."
    ),
    "insufficient_funds": "Your card has insufficient funds.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "incorrect_number": "Your card number is incorrect.",
    "card_not_supported": "Your card does not support this type of purchase.",
    "invalid_expiry_year": "Your card's expiration year is invalid.",
    "invalid_expiry_month": "Your card's expiration month is invalid.",
    "incomplete_number": "Your card number is incomplete.",
    "incomplete_cvc": "Your card's security code is incomplete.",
    "incomplete_expiry": "Your card's expiration date is incomplete.",
    "invalid_expiry_year_past": "Your card's expiration year is in the past.",
}

# Words of Stripe's API that mean nothing to a reader.
JARGON = re.compile(
    r"Stripe|PaymentMethod|PaymentIntent|SetupIntent|payment method|intent|_|"
    r"authentication|latest attempt|provided|fulfill|transaction|a little bit|invalid",
    re.IGNORECASE,
)


@pytest.mark.parametrize(("code", "stripes"), sorted(STRIPES_MESSAGES.items()))
def test_no_sentence_is_stripes_own_for_that_code(code, stripes):
    told = card_message(code)

    assert told != stripes
    assert stripes not in told


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_no_sentence_contains_stripes_jargon_and_each_says_what_to_do(key):
    told = MESSAGES[key]

    assert not JARGON.search(told), JARGON.search(told)
    assert not any(stripes in told for stripes in STRIPES_MESSAGES.values())
    assert "please" in told.lower()  # what the reader can do next
    assert told.endswith(".") and told[0].isupper()


def test_the_pages_tell_stripe_js_errors_in_the_same_words():
    page_data = stripe_page(anything="else")["page_data"]

    assert page_data["cardMessages"] == MESSAGES
    assert {"_default", "card_declined"} <= page_data["cardMessages"].keys()  # patronage.js
