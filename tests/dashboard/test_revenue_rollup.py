"""The hourly sums the dashboard reads always agree with the ledger they sum."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from payments import stripe_gateway as gateway
from payments.models import HourlyRevenue, Payment
from payments.selectors import revenue
from payments.selectors.revenue import Period
from payments.services import ledger, revenue_rollup
from payments.states import PaymentKind
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)


def rollup() -> set[tuple]:
    return set(
        HourlyRevenue.objects.values_list("hour", "currency", "kind", "payments", "gross", "fees")
    )


def some_payments(count: int = 60, seed: int = 3) -> None:
    draw = random.Random(seed)
    for _ in range(count):
        amount, fee = draw.randint(100, 10000), draw.choice([None, 0, draw.randint(1, 300)])
        PaymentFactory(
            amount=amount,
            fee=fee,
            net=None if fee is None else amount - fee,
            currency=draw.choice(["USD", "EUR"]),
            kind=draw.choice(PaymentKind.values),
            paid_at=START + timedelta(minutes=draw.randint(0, 60 * 24 * 40)),
        )


def test_every_new_ledger_row_is_counted_in_its_hour_as_a_rebuild_would():
    some_payments()
    counted = rollup()

    call_command("rebuild_revenue_rollup", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert counted == rollup()
    assert sum(row[3] for row in counted) == 60


def test_a_fee_learnt_after_the_payment_is_added_once():
    payment = PaymentFactory(amount=2000, fee=None, net=None, currency="USD", paid_at=START)
    charge = gateway.ChargeInfo(
        id=payment.stripe_charge_id,
        payment_intent_id=payment.stripe_payment_intent_id,
        amount=2000,
        currency="USD",
        created=START,
        amount_refunded=0,
        email=None,
        fee=88,
        net=1912,
    )

    ledger.record_charge_fee(charge)
    ledger.record_charge_fee(charge)  # a repeated charge.updated

    assert HourlyRevenue.objects.get().fees == 88
    revenue_rollup.rebuild()
    assert HourlyRevenue.objects.get().fees == 88


@pytest.mark.parametrize("zone", ["UTC", "Europe/Kyiv", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("by", ["day", "week", "month"])
def test_figures_equal_the_ledgers_rows_in_any_time_zone(zone, by):
    """Kyiv and New York start their days on a UTC hour (the hourly sums are read);
    Kolkata's half-hour offset does not (the ledger itself is read)."""
    some_payments(seed=7)
    with timezone.override(zone):
        local = timezone.get_current_timezone()
        period = Period(datetime(2026, 3, 3, tzinfo=local), datetime(2026, 4, 2, tzinfo=local), by)
        figures = revenue.revenue("USD", period)
        rows = [
            p
            for p in Payment.objects.filter(currency="USD")
            if period.start <= p.paid_at < period.end
        ]
        buckets = [timezone.localtime(bucket) for bucket in figures.series]

    for kind in PaymentKind.values:
        of_kind = [p for p in rows if p.kind == kind]
        totals = figures.kind(kind)
        assert (totals.count, totals.gross) == (len(of_kind), sum(p.amount for p in of_kind))
        assert totals.fees == sum(p.fee or 0 for p in of_kind)
    assert sum(sum(kinds.values()) for kinds in figures.series.values()) == figures.gross
    assert all(bucket.time() == datetime.min.time() for bucket in buckets)  # local midnights
