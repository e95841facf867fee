"""PostgreSQL: trigram indexes (pg_trgm) on the search texts, which serve both ``LIKE '%…%'`` and the
``%>`` similarity match of deals.search. SQLite has no such index type: there the search reads the table."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "deals_client_search_trgm": "deals_client",
    "deals_contact_search_trgm": "deals_contact",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (search_text gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0020_fill_search_text"),
    ]

    operations = [
        TrigramExtension(),  # does nothing on databases other than PostgreSQL
        migrations.RunPython(create_indexes, drop_indexes),
    ]
