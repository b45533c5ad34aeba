"""What a member's change of amount or interval will charge, and when: stated before
they save, and again once it is done.

The numbers come from Stripe's invoice preview when the gateway has one. Otherwise
(the emulator, or the preview failed) they are worked out here the way Stripe prorates,
to the second: the unused fraction of the current period times the old amount is the
credit, and (for a new amount) the same fraction of the new amount is charged for the
rest of the period. Those are marked as an estimate. `settings.MEMBERSHIP_PRORATION`
says whether there is any credit at all.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.utils import dateformat, timezone

from members.models import Membership
from members.states import Interval
from payments import stripe_gateway as gateway
from payments.money import Money

NO_CREDIT = "none"
STEP = {Interval.MONTH: relativedelta(months=1), Interval.YEAR: relativedelta(years=1)}


@dataclass(frozen=True)
class ChangeQuote:
    """A change priced: what is charged today, and the payments after it."""

    currency: str
    old_amount: int
    old_interval: str
    amount: int
    interval: str
    proration: str  # settings.MEMBERSHIP_PRORATION when it was priced
    due_now: int  # charged today (only a new interval is charged at once)
    next_payment_at: datetime | None  # the next payment after today's
    next_payment: int  # its amount (a new amount's difference for this period included)
    credit: int  # the unused part of the period paid for, credited
    prorated_charge: int  # the rest of this period at the new amount (amount change)
    leftover: int  # credit beyond what it pays for, taken off the payments after
    estimate: bool  # worked out here rather than previewed by Stripe
    proration_date: int  # the second the credit is counted from (send it with the update)

    @property
    def unchanged(self) -> bool:
        return (self.amount, self.interval) == (self.old_amount, self.old_interval)

    @property
    def switch(self) -> bool:
        return self.interval != self.old_interval

    def money(self, amount: int) -> str:
        return Money(amount, self.currency).format()

    @property
    def sentence(self) -> str:
        """What will be charged when, in the member's words."""
        new, every = self.money(self.amount), _per(self.interval)
        on = _day(self.next_payment_at)
        if self.unchanged:
            return f"You give {new} {every}" + (f"; your next payment is on {on}." if on else ".")
        text = self._switch_sentence(new, on) if self.switch else self._amount_sentence(new, on)
        if self.estimate and (self.credit or self.prorated_charge):
            text += (
                " These amounts are an estimate: the exact ones are worked out to the"
                " second when you save."
            )
        return text

    def _switch_sentence(self, new: str, on: str) -> str:
        unused = f"the unused part of this {self.old_interval}"
        then = f"then {new} every {self.interval}" + (f" from {on}" if on else "")
        if self.leftover:
            return (
                f"Nothing is charged today: your credit of {self.money(self.credit)} for "
                f"{unused} pays for your first {self.interval} ({new}), and the remaining "
                f"{self.money(self.leftover)} is taken off your next payments of {new} "
                f"{_per(self.interval)}" + (f", the first on {on}." if on else ".")
            )
        if self.credit:
            today = f"{self.money(self.due_now)} today" if self.due_now else "nothing today"
            return (
                f"You'll be charged {today} ({new} {_per(self.interval)}, less "
                f"{self.money(self.credit)} for {unused}), {then}."
            )
        text = f"You'll be charged {self.money(self.due_now)} today, {then}."
        if self.proration == NO_CREDIT:
            text += f" The unused part of this {self.old_interval} is not credited."
        return text

    def _amount_sentence(self, new: str, on: str) -> str:
        per = _per(self.interval)
        difference = self.prorated_charge - self.credit
        if not on:
            return f"From your next payment you'll pay {new} {per}."
        if not difference:
            return f"From {on} you'll pay {new} {per}."
        ahead = f"{new} for the {self.interval} ahead"
        rest = f"for the rest of this {self.interval}"
        if difference > 0:
            part = f"plus {self.money(difference)} {rest} at the new amount"
        else:
            part = f"less {self.money(-difference)} {rest} at the lower amount"
        if self.leftover:
            return (
                f"Nothing is charged on {on} ({ahead}, {part}); the remaining "
                f"{self.money(self.leftover)} is taken off the payments after it, "
                f"then {new} {per}."
            )
        next_payment = self.money(self.next_payment)
        return f"On {on} you'll pay {next_payment} ({ahead}, {part}), then {new} {per}."

    @property
    def button(self) -> str:
        """The submit button's words."""
        if self.unchanged:
            return "Save the change"
        if self.switch:
            label = Interval(self.interval).label.lower()
            if self.due_now:
                return f"Switch to {label}: pay {self.money(self.due_now)} now"
            return f"Switch to {label}"
        return f"Change to {self.money(self.amount)} {_per(self.interval)}"

    def as_json(self) -> dict:
        return {
            "sentence": self.sentence,
            "button": self.button,
            "estimate": self.estimate,
            "dueNow": self.due_now,
            "prorationDate": self.proration_date,
        }


def _per(interval: str) -> str:
    return f"a {interval}"


def _day(when: datetime | None) -> str:
    return dateformat.format(timezone.localtime(when), "j F Y") if when else ""


def _share(amount: int, fraction: Decimal) -> int:
    """`amount` times `fraction`, to the nearest minor unit (as Stripe rounds a line)."""
    return int((Decimal(amount) * fraction).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def quote(
    membership: Membership,
    subscription: gateway.SubscriptionInfo | None,
    *,
    amount: int,
    interval: str,
    proration: str,
    at: datetime,
) -> ChangeQuote:
    """Price a change of `membership` (as held) to `amount` every `interval`, made at `at`.

    `subscription` is Stripe's, as read just now (None if it could not be read): with
    it, Stripe previews the invoice; without a preview the numbers are worked out here.
    """
    at = at.replace(microsecond=0)
    base = {
        "currency": membership.currency,
        "old_amount": membership.amount,
        "old_interval": membership.interval,
        "amount": amount,
        "interval": interval,
        "proration": proration,
        "proration_date": int(at.timestamp()),
    }
    period_end = (subscription and subscription.current_period_end) or membership.current_period_end
    if (amount, interval) == (membership.amount, membership.interval):
        return ChangeQuote(
            **base, due_now=0, next_payment_at=period_end, next_payment=amount,
            credit=0, prorated_charge=0, leftover=0, estimate=False,
        )  # fmt: skip
    preview = None
    if subscription is not None and subscription.item_id and subscription.product_id:
        try:  # None where the gateway has no preview (the emulator)
            preview = gateway.preview_subscription_change(
                subscription_id=subscription.id,
                item_id=subscription.item_id,
                product_id=subscription.product_id,
                amount=amount,
                currency=membership.currency,
                interval=interval,
                proration_behavior=proration,
                proration_date=base["proration_date"],
            )
        except gateway.GatewayError:
            preview = None  # worked out here instead, as an estimate
    switch = interval != membership.interval
    if preview is not None:
        return ChangeQuote(
            **base,
            due_now=preview.amount_due if switch else 0,
            next_payment_at=(preview.period_end or at + STEP[interval]) if switch else period_end,
            next_payment=amount if switch else preview.amount_due,
            credit=preview.credit,
            prorated_charge=preview.prorated_charge,
            leftover=max(0, -preview.total),
            estimate=False,
        )
    return _worked_out(
        membership, subscription, base=base, period_end=period_end, switch=switch, at=at
    )


def _worked_out(membership, subscription, *, base, period_end, switch, at) -> ChangeQuote:
    """Stripe's proration done here: to the second, over the current period."""
    amount, interval = base["amount"], base["interval"]
    fraction = Decimal(0)
    if base["proration"] != NO_CREDIT and period_end is not None:
        start = (subscription and subscription.current_period_start) or (
            period_end - STEP[membership.interval]
        )
        length = (period_end - start).total_seconds()
        if length > 0:
            unused = min(max((period_end - at).total_seconds(), 0), length)
            fraction = Decimal(int(unused)) / Decimal(int(length))
    credit = _share(membership.amount, fraction)
    if switch:
        total = amount - credit
        return ChangeQuote(
            **base,
            due_now=max(0, total),
            next_payment_at=at + STEP[interval],
            next_payment=amount,
            credit=credit,
            prorated_charge=0,
            leftover=max(0, -total),
            estimate=True,
        )
    charge = _share(amount, fraction)
    total = amount + charge - credit
    return ChangeQuote(
        **base,
        due_now=0,
        next_payment_at=period_end,
        next_payment=max(0, total),
        credit=credit,
        prorated_charge=charge,
        leftover=max(0, -total),
        estimate=True,
    )


def done_message(quote: ChangeQuote, membership: Membership, invoice) -> str:
    """The confirmation once Stripe has the change: what was charged today (from the
    interval switch's invoice, `invoice`), or what the next payment will be."""
    new = quote.money(membership.amount)
    text = f"Your membership is now {new} {Interval(membership.interval).label.lower()}."
    if not quote.switch:
        return f"{text} {quote.sentence}"
    on = _day(membership.current_period_end)
    then = f" Your next payment is {new} on {on}." if on else ""
    if invoice is None:
        return text + then
    if invoice.amount_paid:
        paid = invoice.amount_paid
        part = (
            f" ({new} {_per(membership.interval)}, less {quote.money(membership.amount - paid)} "
            f"for the unused part of the {quote.old_interval} you had paid for)"
            if paid < membership.amount
            else ""
        )
        return f"{text} {quote.money(paid)} was charged today{part}.{then}"
    if invoice.amount_due:
        return (
            f"{text} {quote.money(invoice.amount_due)} is due today; we'll email you if your "
            f"bank needs anything.{then}"
        )
    return (
        f"{text} Nothing was charged today: your credit for the time already paid for "
        f"covers it.{then}"
    )
