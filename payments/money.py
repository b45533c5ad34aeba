"""Money: integer minor units plus an ISO 4217 code. Never floats."""

import re
from dataclasses import dataclass
from decimal import Decimal

from payments.currencies import ZERO_DECIMAL_CURRENCIES

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "UAH": "₴", "JPY": "¥"}


@dataclass(frozen=True, order=True)
class Money:
    amount: int  # in the currency's minor unit (cents), or whole units for JPY
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int in minor units.")
        object.__setattr__(self, "currency", self.currency.upper())

    @property
    def decimals(self) -> int:
        return 0 if self.currency in ZERO_DECIMAL_CURRENCIES else 2

    def as_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-self.decimals)

    def format(self) -> str:
        """For people: `$5.00`, `¥500`, `CHF 12.50`."""
        number = f"{abs(self.as_decimal()):,.{self.decimals}f}"
        sign = "-" if self.amount < 0 else ""
        symbol = CURRENCY_SYMBOLS.get(self.currency)
        return f"{sign}{symbol}{number}" if symbol else f"{sign}{self.currency} {number}"

    def __str__(self) -> str:
        return self.format()


# What readers type: "10", "10.50", "1,000.00" (thousands), "10,50" (decimal comma).
# ASCII digits only: `\d` alone would also take Arabic-Indic or fullwidth digits,
# which Decimal reads as numbers.
PLAIN_AMOUNT = re.compile(r"\d+(\.\d*)?|\.\d+", re.ASCII)
THOUSANDS_AMOUNT = re.compile(r"\d{1,3}(,\d{3})+(\.\d*)?", re.ASCII)
DECIMAL_COMMA_AMOUNT = re.compile(r"\d+,\d{1,2}", re.ASCII)


def parse_major_amount(text: str, currency: str) -> int:
    """Turn what a reader typed ("5", "5.50", "1,000", "5,50") into minor units.

    Only plain numbers are accepted (no signs, exponents or other symbols).
    Raises ValueError with a reason a person can read.
    """
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if not cleaned:
        raise ValueError("Enter an amount.")
    if THOUSANDS_AMOUNT.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    elif DECIMAL_COMMA_AMOUNT.fullmatch(cleaned):
        cleaned = cleaned.replace(",", ".")
    if not PLAIN_AMOUNT.fullmatch(cleaned) or len(cleaned) > 20:
        raise ValueError("Enter the amount as a number, like 10 or 10.50.")
    value = Decimal(cleaned)
    decimals = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2
    minor = value.scaleb(decimals)
    if minor != minor.to_integral_value():
        places = "no decimals" if decimals == 0 else f"at most {decimals} decimals"
        raise ValueError(f"{currency.upper()} amounts have {places}.")
    if minor > 10**12:
        raise ValueError("That amount is too large.")
    return int(minor)
