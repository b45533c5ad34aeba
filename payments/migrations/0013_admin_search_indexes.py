"""Indexes for the admin at a million payments: the dispute list's order, the refunded
rows with what the ledger's totals read, and (on PostgreSQL only) trigram indexes for
finding donors by part of a name or address."""

from django.db import migrations, models, transaction

# The admin's partial search runs `UPPER(column::text) LIKE UPPER('%word%')` (Django's
# icontains on PostgreSQL), which a GIN trigram index on UPPER(column) answers.
TRIGRAM_INDEXES = {
    "payments_donor_email_trgm": ("payments_donor", "email"),
    "payments_donor_name_trgm": ("payments_donor", "name"),
}


def add_trigram_indexes(apps, schema_editor) -> None:
    """PostgreSQL only (SQLite, the zero-setup default, searches without them). Without
    the right to create the pg_trgm extension, the search still works, by a scan."""
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # noqa: BLE001 - any refusal: go on without the indexes
        print(f"\n  pg_trgm not available ({exc}): no trigram indexes for the admin's search")
        return
    for name, (table, column) in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin (UPPER("{column}"::text) gin_trgm_ops)'
        )


def drop_trigram_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0012_donation_card_entered_in_page"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="dispute",
            index=models.Index(fields=["opened_at", "id"], name="payments_dispute_opened"),
        ),
        # The ledger's totals read the refunded rows from this index alone
        migrations.RemoveIndex(model_name="payment", name="payments_payment_refunded"),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(
                condition=models.Q(("amount_refunded__gt", 0)),
                fields=["paid_at"],
                include=("currency", "kind", "amount_refunded"),
                name="payments_payment_refunded",
            ),
        ),
        migrations.RunPython(add_trigram_indexes, drop_trigram_indexes, elidable=False),
    ]
