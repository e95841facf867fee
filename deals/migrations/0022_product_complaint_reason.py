"""The refusal reason "complaints about the product": a deal lost with it tells the sales head."""

from django.db import migrations

CODE = "product_complaint"
NAME = "Претензии к качеству продукции"


def create_reason(apps, schema_editor):
    LostReason = apps.get_model("deals", "LostReason")
    if LostReason.objects.filter(code=CODE).exists():
        return
    # The head may have added the reason by hand already: it gets the code, not a twin.
    existing = LostReason.objects.filter(name=NAME).first()
    if existing is not None:
        existing.code = CODE
        existing.save(update_fields=["code"])
        return
    # Between "chose a competitor" (3) and "other" (5); the note says what the complaint is.
    LostReason.objects.create(code=CODE, name=NAME, requires_note=True, position=4)


def delete_reason(apps, schema_editor):
    apps.get_model("deals", "LostReason").objects.filter(code=CODE).update(code="")


class Migration(migrations.Migration):
    dependencies = [("deals", "0021_search_trigram_index")]

    operations = [migrations.RunPython(create_reason, delete_reason)]
