"""Trigram indexes for the admin's partial searches, made by a migration (PostgreSQL only).

The admin's partial search runs `UPPER(column::text) LIKE UPPER('%word%')` (Django's
icontains on PostgreSQL), which a GIN trigram index on UPPER(column) answers. SQLite,
the zero-setup default, searches without them; so does a database whose user may not
create the pg_trgm extension, by a scan.
"""

from django.db import migrations, transaction


def trigram_indexes(indexes: dict[str, tuple[str, str]]) -> migrations.RunPython:
    """The migration operation making `{index name: (table, column)}` (undone by dropping them)."""

    def add(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        try:
            with transaction.atomic(using=schema_editor.connection.alias):
                schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:  # any refusal: go on without the indexes
            print(f"\n  pg_trgm not available ({exc}): no trigram indexes for the admin's search")
            return
        for name, (table, column) in indexes.items():
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
                f'USING gin (UPPER("{column}"::text) gin_trgm_ops)'
            )

    def drop(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for name in indexes:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')

    return migrations.RunPython(add, drop, elidable=False)
