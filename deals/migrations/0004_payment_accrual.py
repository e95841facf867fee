from django.db import migrations, models


def accrue_in_receipt_month(apps, schema_editor):
    Payment = apps.get_model("deals", "Payment")
    for payment in Payment.objects.all().only("pk", "received_on"):
        Payment.objects.filter(pk=payment.pk).update(accrual_month=payment.received_on.replace(day=1))


class Migration(migrations.Migration):
    dependencies = [("deals", "0003_deal_paid_in_full_on_and_more")]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="accrual_month",
            field=models.DateField(null=True, verbose_name="учитывается в месяце"),
        ),
        migrations.RunPython(accrue_in_receipt_month, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="payment",
            name="accrual_month",
            field=models.DateField(verbose_name="учитывается в месяце"),
        ),
        migrations.AddField(
            model_name="payment",
            name="late",
            field=models.BooleanField(default=False, verbose_name="поступила после закрытия месяца"),
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(fields=["accrual_month"], name="deals_payme_accrual_10e2d5_idx"),
        ),
    ]
