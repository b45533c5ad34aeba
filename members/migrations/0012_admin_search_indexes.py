"""Indexes for the admin at scale: the member webhook log's order, the dashboard's new
members from an index alone, and (on PostgreSQL only) trigram indexes for finding
accounts by part of a name or address."""

from django.db import migrations, models

from config.trigram import trigram_indexes

TRIGRAM_INDEXES = {
    "members_user_email_trgm": ("members_user", "email"),
    "members_user_display_name_trgm": ("members_user", "display_name"),
}


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0011_level_tax_note_cancel_notice"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(fields=["created_at", "id"], name="members_delivery_created"),
        ),
        # The dashboard's new members of a period read from the index alone
        migrations.RemoveIndex(model_name="membership", name="members_ms_started"),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(
                fields=["kind", "origin", "starts_at"],
                include=("status", "article_slug", "campaign"),
                name="members_ms_started",
            ),
        ),
        trigram_indexes(TRIGRAM_INDEXES),
    ]
