"""Indexes for the admin at a million payments: the dispute list's order, the refunded
rows with what the ledger's totals read, and (on PostgreSQL only) trigram indexes for
finding donors by part of a name or address."""

from django.db import migrations, models

from config.trigram import trigram_indexes

TRIGRAM_INDEXES = {
    "payments_donor_email_trgm": ("payments_donor", "email"),
    "payments_donor_name_trgm": ("payments_donor", "name"),
}


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
        trigram_indexes(TRIGRAM_INDEXES),
    ]
