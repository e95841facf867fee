import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    # Its own transaction: PostgreSQL alters no table with the data migration's checks still pending.
    dependencies = [
        ("deals", "0011_money_has_an_earner"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="payment",
            name="credited_to",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="credited_payments",
                to=settings.AUTH_USER_MODEL,
                verbose_name="засчитана хантеру",
            ),
        ),
    ]
