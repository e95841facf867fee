"""The starting list of refusal reasons (SPEC §3); the sales head edits it later."""

from django.db import migrations

REASONS = [
    ("Не целевой клиент", "not_target", False),
    ("Нет связи", "no_contact", False),
    ("Выбрал конкурента", "competitor", False),
    ("Цена", "price", False),
    ("Другое", "other", True),
]


def create_reasons(apps, schema_editor):
    LostReason = apps.get_model("deals", "LostReason")
    for position, (name, code, requires_note) in enumerate(REASONS, start=1):
        LostReason.objects.get_or_create(
            code=code, defaults={"name": name, "requires_note": requires_note, "position": position}
        )


def delete_reasons(apps, schema_editor):
    apps.get_model("deals", "LostReason").objects.filter(code__in=[code for _, code, _ in REASONS]).delete()


class Migration(migrations.Migration):
    dependencies = [("deals", "0001_initial")]

    operations = [migrations.RunPython(create_reasons, delete_reasons)]
