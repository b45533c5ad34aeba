"""The currencies offered to readers, parsed once from settings.PATRONAGE_CURRENCIES."""

from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# ISO 4217 currencies Stripe treats as having no minor unit (amounts are whole units).
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)


@dataclass(frozen=True)
class Currency:
    code: str
    minimum: int  # smallest gift, in minor units
    maximum: int  # largest gift, in minor units

    @property
    def decimals(self) -> int:
        return 0 if self.code in ZERO_DECIMAL_CURRENCIES else 2


def parse_currencies(spec: str) -> dict[str, Currency]:
    """Parse `USD:100:1000000,JPY:100:1000000` into Currency objects, keeping order."""
    currencies: dict[str, Currency] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        try:
            code, minimum, maximum = entry.split(":")
            currency = Currency(code.strip().upper(), int(minimum), int(maximum))
        except ValueError:
            raise ImproperlyConfigured(
                f"PATRONAGE_CURRENCIES entry {entry!r} is not CODE:MIN:MAX in minor units."
            ) from None
        if len(currency.code) != 3 or not currency.code.isalpha():
            raise ImproperlyConfigured(f"{currency.code!r} is not an ISO 4217 currency code.")
        if not 0 < currency.minimum <= currency.maximum:
            raise ImproperlyConfigured(f"{currency.code}: need 0 < MIN <= MAX.")
        currencies[currency.code] = currency
    if not currencies:
        raise ImproperlyConfigured("PATRONAGE_CURRENCIES lists no currency.")
    return currencies


@cache
def _offered(spec: str) -> dict[str, Currency]:
    return parse_currencies(spec)


def offered_currencies() -> dict[str, Currency]:
    """Currencies readers may give in, default first."""
    return _offered(settings.PATRONAGE_CURRENCIES)


def default_currency() -> Currency:
    return next(iter(offered_currencies().values()))


def get_currency(code: str) -> Currency | None:
    return offered_currencies().get(code.upper())


def currencies_for_page() -> dict[str, dict[str, int]]:
    """What the payment pages' scripts need to know of each offered currency."""
    return {
        code: {"decimals": c.decimals, "minimum": c.minimum, "maximum": c.maximum}
        for code, c in offered_currencies().items()
    }


def currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in offered_currencies()]


# Stripe's smallest chargeable amounts (minor units); lower settings are raised to these.
STRIPE_MINIMUMS = {"USD": 50, "EUR": 50, "GBP": 30, "JPY": 50, "CAD": 50, "AUD": 50, "CHF": 50}


def minimum_amount(currency: Currency) -> int:
    return max(currency.minimum, STRIPE_MINIMUMS.get(currency.code, 0))


@cache
def _fixed_fees(spec: str) -> dict[str, int]:
    fees = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        code, _, amount = entry.partition(":")
        fees[code.strip().upper()] = int(amount)
    return fees


def fee_rule(currency: str) -> tuple[int, int]:
    """Stripe's estimated fee the cover makes up for: (share in basis points, fixed part in
    the currency's minor unit), from DONATION_FEE_BPS and DONATION_FEE_FIXED."""
    return settings.DONATION_FEE_BPS, _fixed_fees(settings.DONATION_FEE_FIXED).get(
        currency.upper(), 0
    )


def fee_cover(amount: int, currency: str) -> int:
    """What to add to `amount` so that, after Stripe's estimated fee, `amount` arrives.

    Solves total - (total * bps / 10000 + fixed) >= amount for the smallest
    integer total, in integer arithmetic.
    """
    bps, fixed = fee_rule(currency)
    total = -(-(amount + fixed) * 10000 // (10000 - bps))  # ceiling division
    return total - amount
