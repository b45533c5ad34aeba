import pytest

from payments.money import Money, parse_major_amount


@pytest.mark.parametrize(
    ("money", "shown"),
    [
        (Money(500, "USD"), "$5.00"),
        (Money(123456, "EUR"), "€1,234.56"),
        (Money(500, "JPY"), "¥500"),
        (Money(1250, "CHF"), "CHF 12.50"),
        (Money(-250, "GBP"), "-£2.50"),
        (Money(10000, "uah"), "₴100.00"),
    ],
)
def test_money_is_shown_with_the_currency_own_decimals(money, shown):
    assert money.format() == shown


def test_money_refuses_anything_but_integer_minor_units():
    with pytest.raises(TypeError):
        Money(5.0, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("5", "USD", 500),
        ("5.5", "USD", 550),
        (" 1,000.25 ", "EUR", 100025),
        ("500", "JPY", 500),
    ],
)
def test_typed_amounts_become_minor_units(typed, currency, minor):
    assert parse_major_amount(typed, currency) == minor


@pytest.mark.parametrize(
    ("typed", "currency", "reason"),
    [
        ("", "USD", "Enter an amount"),
        ("ten", "USD", "as a number"),
        ("NaN", "USD", "as a number"),
        ("Infinity", "USD", "as a number"),
        ("5.001", "USD", "at most 2 decimals"),
        ("500.5", "JPY", "no decimals"),
        ("1e20", "USD", "as a number"),
        ("-3", "USD", "as a number"),
        ("99999999999999", "USD", "too large"),
    ],
)
def test_unparseable_amounts_give_a_reason(typed, currency, reason):
    with pytest.raises(ValueError, match=reason):
        parse_major_amount(typed, currency)
