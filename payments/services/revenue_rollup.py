"""The ledger summed per UTC hour, currency and kind (models.HourlyRevenue), for the
revenue dashboard.

Every ledger row saved for the first time is counted (a `post_save` receiver, connected
in PaymentsConfig.ready, so every path that creates a row is covered), and a fee that
arrives later is added by `add_fee`. Each change is one atomic upsert that adds to the
row (`payments = payments + 1`), so concurrent payments in the same hour never lose a
count. `rebuild` recomputes everything from the ledger after a bulk load.
"""

from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce, TruncHour

from payments.models import HourlyRevenue, Payment

_UPSERT = """
INSERT INTO payments_hourlyrevenue (hour, currency, kind, payments, gross, fees)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (currency, hour, kind) DO UPDATE SET
    payments = payments_hourlyrevenue.payments + excluded.payments,
    gross = payments_hourlyrevenue.gross + excluded.gross,
    fees = payments_hourlyrevenue.fees + excluded.fees
"""


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _add(payment: Payment, *, payments: int, gross: int, fees: int) -> None:
    hour = connection.ops.adapt_datetimefield_value(hour_of(payment.paid_at))
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [hour, payment.currency, payment.kind, payments, gross, fees])


def count_new_payment(sender, instance: Payment, created: bool, raw: bool = False, **kwargs):
    """post_save receiver: a new ledger row adds one payment, its amount and its fee."""
    if created and not raw:
        _add(instance, payments=1, gross=instance.amount, fees=instance.fee or 0)


def add_fee(payment: Payment, fee: int) -> None:
    """A fee learnt after the row was written (call in the transaction that sets it)."""
    if fee:
        _add(payment, payments=0, gross=0, fees=fee)


def summed_from_the_ledger():
    """The rows the table should hold, computed from the ledger (one query)."""
    rows = (
        Payment.objects.annotate(bucket=TruncHour("paid_at", tzinfo=UTC))
        .values("bucket", "currency", "kind")
        .annotate(count=Count("pk"), gross=Sum("amount"), fees=Coalesce(Sum("fee"), 0))
        .order_by()
    )
    for row in rows.iterator(chunk_size=5000):
        yield HourlyRevenue(
            hour=row["bucket"],
            currency=row["currency"],
            kind=row["kind"],
            payments=row["count"],
            gross=row["gross"],
            fees=row["fees"],
        )


def rebuild() -> int:
    """Recompute every row from the ledger (after a bulk load that skipped the receiver).
    Run while no payments are being recorded. Returns the number of rows."""
    with transaction.atomic():
        HourlyRevenue.objects.all().delete()
        created = HourlyRevenue.objects.bulk_create(summed_from_the_ledger(), batch_size=5000)
    return len(created)
