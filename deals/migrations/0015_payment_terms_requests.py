import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """A hunter's request for a client's payment terms, decided by the sales head."""

    dependencies = [
        ("deals", "0014_order_versions_from_orders"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='PaymentTermsRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('payment_terms', models.CharField(choices=[('prepayment', 'Предоплата'), ('deferred', 'Отсрочка платежа'), ('consignment', 'Реализация')], max_length=20, verbose_name='условия оплаты')),
                ('deferred_days', models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='отсрочка, дней')),
                ('deferred_in_working_days', models.BooleanField(default=False, verbose_name='отсрочка в рабочих днях')),
                ('deferred_limit', models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True, verbose_name='лимит отсрочки, ₽')),
                ('consignment_cadence', models.CharField(blank=True, choices=[('weekly', 'Еженедельно'), ('monthly', 'Ежемесячно')], max_length=10, verbose_name='расчёты по реализации')),
                ('comment', models.TextField(verbose_name='обоснование')),
                ('status', models.CharField(choices=[('pending', 'Ждёт решения'), ('approved', 'Одобрен'), ('declined', 'Отклонён')], default='pending', max_length=10, verbose_name='статус')),
                ('requested_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='запрошено')),
                ('decided_at', models.DateTimeField(blank=True, null=True, verbose_name='решение принято')),
                ('decision_comment', models.TextField(blank=True, verbose_name='комментарий к решению')),
                ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='terms_requests', to='deals.client', verbose_name='клиент')),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='решение принял')),
                ('requested_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='запросил')),
            ],
            options={
                'verbose_name': 'запрос условий оплаты',
                'verbose_name_plural': 'запросы условий оплаты',
                'ordering': ['-requested_at', '-pk'],
            },
        ),
        migrations.AddIndex(
            model_name='paymenttermsrequest',
            index=models.Index(fields=['status', 'requested_at'], name='deals_payme_status_4270e2_idx'),
        ),
        migrations.AddConstraint(
            model_name='paymenttermsrequest',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('client',), name='deals_termsrequest_one_pending'),
        ),
        migrations.AddConstraint(
            model_name='paymenttermsrequest',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('payment_terms', 'deferred'), _negated=True), models.Q(('deferred_days__isnull', False), ('deferred_limit__isnull', False)), _connector='OR'), name='deals_termsrequest_deferred_complete'),
        ),
        migrations.AddConstraint(
            model_name='paymenttermsrequest',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('payment_terms', 'consignment'), _negated=True), models.Q(('consignment_cadence', ''), _negated=True), _connector='OR'), name='deals_termsrequest_consignment_cadence_set'),
        ),
        migrations.AddConstraint(
            model_name='paymenttermsrequest',
            constraint=models.CheckConstraint(condition=models.Q(('deferred_limit__isnull', True), ('deferred_limit__gte', 0), _connector='OR'), name='deals_termsrequest_limit_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='paymenttermsrequest',
            constraint=models.CheckConstraint(condition=models.Q(('status', 'pending'), ('decided_at__isnull', False), _connector='OR'), name='deals_termsrequest_decision_dated'),
        ),
    ]
