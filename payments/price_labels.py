"""What the payment pages state before paying: the amount on the pay button, the total,
the card-fee cover's sentence, and each currency's format and fee rule for the pages'
scripts, which say the same things as the reader changes the form
(static/js/patronage.js, Patronage.payLabels: keep the two in step)."""

from payments.currencies import currencies_for_page, fee_cover, fee_rule
from payments.money import CURRENCY_SYMBOLS, Money

ONCE, MEMBERSHIP, GIFT = "once", "membership", "gift"


def short(amount: int, currency: str) -> str:
    """Money for a button: `$10`, `$10.61`, `¥500`, `CHF 12.50` (no `.00` on whole amounts)."""
    money = Money(amount, currency)
    text = money.format()
    if money.decimals and amount % 10**money.decimals == 0:
        text = text[: -(money.decimals + 1)]
    return text


def currencies_with_prices() -> dict[str, dict]:
    """currencies_for_page, plus what the scripts need to state prices as the server does:
    the symbol, and the fee cover's rule (share in basis points, fixed part in minor units)
    as payments.currencies.fee_cover applies it."""
    currencies = {}
    for code, info in currencies_for_page().items():
        share_bps, fixed = fee_rule(code)
        symbol = CURRENCY_SYMBOLS.get(code, "")
        currencies[code] = {**info, "symbol": symbol, "feeBps": share_bps, "feeFixed": fixed}
    return currencies


def fee_sentence(amount: int, currency: str) -> str:
    cover = fee_cover(amount, currency)
    total = short(amount + cover, currency)
    return f"Add {short(cover, currency)} to cover card fees — total {total}"


def pay_labels(
    kind: str,
    amount: int | None,
    currency: str,
    *,
    cover_fees: bool = False,
    interval: str = "month",
    months: int = 1,
) -> dict[str, str]:
    """{"button", "total", "fees"}: what the page says of `amount` before the reader pays.
    No amount (or none the currency allows): the button's plain words, no total."""
    bounds = currencies_for_page().get(currency)
    if amount is None or bounds is None or not bounds["minimum"] <= amount <= bounds["maximum"]:
        plain = {ONCE: "Give now", MEMBERSHIP: "Become a member", GIFT: "Pay and give"}[kind]
        return {"button": plain, "total": "", "fees": "Add a little to cover the card fees"}
    total = amount + (fee_cover(amount, currency) if cover_fees else 0)
    if kind == MEMBERSHIP:
        each = f"{short(amount, currency)} a {interval}"
        return {
            "button": f"Join for {each}",
            "total": f"Total: {each}, charged today, then every {interval} until you cancel.",
            "fees": fee_sentence(amount, currency),
        }
    button = f"Give {short(total, currency)}"
    if kind == GIFT:
        button = f"Give {months} month{'s' if months != 1 else ''} for {short(total, currency)}"
    again = " It does not renew." if kind == GIFT else ""
    return {
        "button": button,
        "total": f"Total: {short(total, currency)}, charged once.{again}",
        "fees": fee_sentence(amount, currency),
    }
