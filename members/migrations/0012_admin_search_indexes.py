"""Indexes for the admin at scale: the member webhook log's order, the dashboard's new
members from an index alone, and (on PostgreSQL only) trigram indexes for finding
accounts by part of a name or address."""

from django.db import migrations, models, transaction

# The admin's partial search runs `UPPER(column::text) LIKE UPPER('%word%')` (Django's
# icontains on PostgreSQL), which a GIN trigram index on UPPER(column) answers.
TRIGRAM_INDEXES = {
    "members_user_email_trgm": ("members_user", "email"),
    "members_user_display_name_trgm": ("members_user", "display_name"),
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
        migrations.RunPython(add_trigram_indexes, drop_trigram_indexes, elidable=False),
    ]
