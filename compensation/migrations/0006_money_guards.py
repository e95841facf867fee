"""The money guards as compensation/guards.py states them: payments credited to their earner, refunds'
clawback shares, locking only what was approved after its month ended, no deletion by cascade, and
schema-qualified names in the PostgreSQL functions."""

from django.db import migrations


def install(apps, schema_editor):
    from compensation import guards

    guards.install(schema_editor.connection)


def drop(apps, schema_editor):
    from compensation import guards

    guards.drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("compensation", "0005_approval_of_figures"),
        ("deals", "0012_payment_credited_to_required"),
    ]

    operations = [migrations.RunPython(install, drop)]
