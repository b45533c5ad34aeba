"""Reads in payments."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet, Sum

from payments import stripe_gateway as gateway
from payments.models import Donation, Payment, SuggestedAmount


def suggested_amounts() -> dict[str, list[SuggestedAmount]]:
    """Suggested one-time amounts per currency, in display order."""
    amounts: dict[str, list[SuggestedAmount]] = {}
    for suggestion in SuggestedAmount.objects.all():
        amounts.setdefault(suggestion.currency, []).append(suggestion)
    return amounts


def donation_for_page(public_id) -> Donation | None:
    return Donation.objects.select_related("donor").filter(public_id=public_id).first()


def giving_history(user) -> QuerySet[Payment]:
    """Every ledger row of the donors linked to this account, newest first."""
    return Payment.objects.filter(donor__user=user).select_related("receipt").order_by("-paid_at")


@dataclass(frozen=True)
class CurrencyCheck:
    """One currency's totals for a period, as Stripe and as the ledger have them."""

    currency: str
    stripe_charged: int
    ledger_charged: int
    stripe_refunded: int
    ledger_refunded: int

    @property
    def matches(self) -> bool:
        return (self.stripe_charged, self.stripe_refunded) == (
            self.ledger_charged,
            self.ledger_refunded,
        )


@dataclass(frozen=True)
class LedgerComparison:
    currencies: list[CurrencyCheck]
    missing_charge_ids: list[str]  # charged in Stripe, absent from the ledger

    @property
    def matches(self) -> bool:
        return not self.missing_charge_ids and all(c.matches for c in self.currencies)


def compare_ledger_with_stripe(start: datetime, end: datetime) -> LedgerComparison:
    """Charged and refunded totals per currency in [start, end): Stripe's against the ledger's."""
    stripe_totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    stripe_ids = set()
    for charge in gateway.list_succeeded_charges(created_from=start, created_to=end):
        stripe_totals[charge.currency][0] += charge.amount
        stripe_totals[charge.currency][1] += charge.amount_refunded
        stripe_ids.add(charge.id)
    ledger_totals = {
        row["currency"]: (row["charged"], row["refunded"])
        for row in Payment.objects.filter(
            paid_at__gte=start, paid_at__lt=end, stripe_charge_id__isnull=False
        )  # invoices paid outside Stripe have no charge there
        .values("currency")
        .annotate(charged=Sum("amount"), refunded=Sum("amount_refunded"))
    }
    recorded = set(
        Payment.objects.filter(stripe_charge_id__in=stripe_ids).values_list(
            "stripe_charge_id", flat=True
        )
    )
    currencies = [
        CurrencyCheck(
            currency,
            stripe_totals[currency][0],
            ledger_totals.get(currency, (0, 0))[0],
            stripe_totals[currency][1],
            ledger_totals.get(currency, (0, 0))[1],
        )
        for currency in sorted(set(stripe_totals) | set(ledger_totals))
    ]
    return LedgerComparison(currencies, sorted(stripe_ids - recorded))
