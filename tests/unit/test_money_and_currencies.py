"""Money in integer minor units, what readers type, and the currencies offered.

tests/payments/test_money.py has the first cases of formatting and parsing;
tests/payments/test_fees_and_limits.py the fee cover. These are the edges.
"""

from dataclasses import FrozenInstanceError
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from payments.currencies import (
    STRIPE_MINIMUMS,
    ZERO_DECIMAL_CURRENCIES,
    Currency,
    currencies_for_page,
    currency_choices,
    default_currency,
    get_currency,
    minimum_amount,
    offered_currencies,
    parse_currencies,
)
from payments.money import Money, parse_major_amount

# --- Money ----------------------------------------------------------------------------


def test_money_upper_cases_its_currency_and_compares_by_value():
    assert Money(500, "usd") == Money(500, "USD")
    assert Money(500, "usd").currency == "USD"
    assert Money(499, "USD") < Money(500, "USD")
    assert len({Money(1, "eur"), Money(1, "EUR")}) == 1


def test_money_cannot_be_changed_once_made():
    money = Money(500, "USD")
    with pytest.raises(FrozenInstanceError):
        money.amount = 600  # type: ignore[misc]


@pytest.mark.parametrize(
    ("money", "decimal"),
    [
        (Money(1999, "USD"), Decimal("19.99")),
        (Money(5, "EUR"), Decimal("0.05")),
        (Money(1999, "JPY"), Decimal("1999")),
        (Money(-250, "KRW"), Decimal("-250")),
        (Money(0, "GBP"), Decimal("0.00")),
    ],
)
def test_as_decimal_moves_the_point_by_the_currencys_own_decimals(money, decimal):
    assert money.as_decimal() == decimal
    assert money.decimals == (0 if money.currency in ZERO_DECIMAL_CURRENCIES else 2)


@pytest.mark.parametrize(
    ("money", "shown"),
    [
        (Money(0, "USD"), "$0.00"),
        (Money(5, "USD"), "$0.05"),
        (Money(100000000, "USD"), "$1,000,000.00"),
        (Money(1234567, "JPY"), "¥1,234,567"),
        (Money(1234567, "KRW"), "KRW 1,234,567"),  # zero-decimal, no symbol of ours
        (Money(-5, "CHF"), "-CHF 0.05"),
    ],
)
def test_money_is_shown_with_grouping_sign_and_symbol_or_code(money, shown):
    assert money.format() == shown
    assert str(money) == shown


@pytest.mark.parametrize("amount", [1.5, "100", Decimal("1"), None, False])
def test_money_takes_nothing_but_an_int(amount):
    with pytest.raises(TypeError):
        Money(amount, "USD")


# --- What readers type ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("10,50", "EUR", 1050),  # a decimal comma
        ("10,5", "EUR", 1050),
        ("1,000", "USD", 100000),  # a thousands comma, not ten decimals
        ("1,000,000.5", "USD", 100000050),
        (".5", "USD", 50),
        ("5.", "USD", 500),
        ("1 000", "EUR", 100000),  # spaces inside are dropped
        ("1\u00a0000,50", "EUR", 100050),  # and no-break spaces too
        ("007", "USD", 700),
        ("10000000000", "USD", 10**12),  # the largest accepted
        ("1,000", "JPY", 1000),
        ("0", "USD", 0),  # a number: the bounds are the form's business
    ],
)
def test_what_readers_type_is_read_as_they_mean_it(typed, currency, minor):
    assert parse_major_amount(typed, currency) == minor


@pytest.mark.parametrize(
    ("typed", "currency", "reason"),
    [
        ("   ", "USD", "Enter an amount"),
        ("1,0000", "EUR", "as a number"),  # neither
        ("1.000,50", "EUR", "as a number"),  # European thousands dots are not guessed
        ("+5", "USD", "as a number"),
        ("5$", "USD", "as a number"),
        ("0x10", "USD", "as a number"),
        ("\u0665", "USD", "as a number"),  # an Arabic-Indic five
        ("\uff15", "USD", "as a number"),  # a fullwidth five
        ("1" * 21, "USD", "as a number"),  # longer than any amount
        ("10000000000.01", "USD", "too large"),
        ("0.5", "JPY", "JPY amounts have no decimals"),
        ("0.001", "eur", "EUR amounts have at most 2 decimals"),
    ],
)
def test_what_is_not_a_plain_amount_is_refused_with_a_reason(typed, currency, reason):
    with pytest.raises(ValueError, match=reason):
        parse_major_amount(typed, currency)


def test_a_comma_followed_by_three_digits_is_thousands_and_by_one_or_two_decimals():
    assert parse_major_amount("10,500", "JPY") == 10500
    assert parse_major_amount("1,00", "EUR") == 100
    assert parse_major_amount("10,555", "EUR") == 1055500


# --- Currencies -------------------------------------------------------------------------


def test_a_currency_has_two_decimals_unless_stripe_counts_it_in_whole_units():
    assert Currency("USD", 100, 1000).decimals == 2
    assert Currency("JPY", 100, 1000).decimals == 0
    assert {"JPY", "KRW", "VND", "CLP"} <= ZERO_DECIMAL_CURRENCIES
    assert not {"USD", "EUR", "GBP", "UAH"} & ZERO_DECIMAL_CURRENCIES


def test_entries_are_trimmed_and_empty_ones_skipped():
    parsed = parse_currencies(" gbp : 30 : 500 ,, eur:100:100 ,")
    assert list(parsed) == ["GBP", "EUR"]
    assert parsed["GBP"] == Currency("GBP", 30, 500)
    assert parsed["EUR"] == Currency("EUR", 100, 100)  # MIN == MAX is allowed


def test_a_currency_listed_twice_keeps_its_first_place_and_last_bounds():
    parsed = parse_currencies("USD:100:200,EUR:100:200,USD:300:400")
    assert list(parsed) == ["USD", "EUR"]
    assert parsed["USD"] == Currency("USD", 300, 400)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "lists no currency"),
        (" , ", "lists no currency"),
        ("USD:100", "not CODE:MIN:MAX"),
        ("USD:1.5:100", "not CODE:MIN:MAX"),
        ("USD:100:200:300", "not CODE:MIN:MAX"),
        ("US1:100:200", "not an ISO 4217"),
        ("EURO:100:200", "not an ISO 4217"),
        ("USD:0:100", "need 0 < MIN <= MAX"),
        ("USD:-5:100", "need 0 < MIN <= MAX"),
        ("USD:200:100", "need 0 < MIN <= MAX"),
    ],
)
def test_a_bad_currencies_setting_says_what_is_wrong(spec, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        parse_currencies(spec)


def test_the_offered_currencies_follow_the_setting_default_first(settings):
    settings.PATRONAGE_CURRENCIES = "GBP:100:5000,JPY:100:900000"

    assert list(offered_currencies()) == ["GBP", "JPY"]
    assert default_currency().code == "GBP"
    assert get_currency("jpy") == Currency("JPY", 100, 900000)
    assert get_currency("USD") is None
    assert currency_choices() == [("GBP", "GBP"), ("JPY", "JPY")]
    assert currencies_for_page() == {
        "GBP": {"decimals": 2, "minimum": 100, "maximum": 5000},
        "JPY": {"decimals": 0, "minimum": 100, "maximum": 900000},
    }


@pytest.mark.parametrize(
    ("currency", "smallest"),
    [
        (Currency("USD", 10, 1000), 50),  # raised to Stripe's minimum
        (Currency("GBP", 10, 1000), 30),
        (Currency("USD", 500, 1000), 500),  # ours is higher: ours
        (Currency("UAH", 1, 1000), 1),  # Stripe sets none we know of
    ],
)
def test_the_smallest_gift_is_ours_or_stripes_whichever_is_higher(currency, smallest):
    assert minimum_amount(currency) == smallest


def test_stripe_minimums_are_in_minor_units_of_offered_kinds():
    assert all(len(code) == 3 and code.isupper() for code in STRIPE_MINIMUMS)
    assert all(0 < amount <= 100 for amount in STRIPE_MINIMUMS.values())
