import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Order versions: every submission of an order's lines is kept, and a change to an order production
    approved waits for its approval again."""

    dependencies = [
        ('deals', '0012_payment_credited_to_required'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='OrderVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField(verbose_name='версия')),
                ('total', models.DecimalField(decimal_places=2, editable=False, max_digits=14, verbose_name='сумма заказа')),
                ('cost_total', models.DecimalField(decimal_places=2, editable=False, max_digits=14, verbose_name='себестоимость заказа')),
                ('status', models.CharField(choices=[('pending', 'Ждёт согласования'), ('approved', 'Согласована'), ('declined', 'Отклонена'), ('superseded', 'Заменена следующей версией')], default='pending', max_length=20, verbose_name='статус')),
                ('comment', models.TextField(blank=True, verbose_name='что изменилось')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='создана')),
                ('decided_at', models.DateTimeField(blank=True, null=True, verbose_name='решение принято')),
                ('decision_comment', models.TextField(blank=True, verbose_name='комментарий к решению')),
                ('limit_approved_at', models.DateTimeField(blank=True, null=True, verbose_name='превышение лимита согласовано')),
                ('limit_comment', models.TextField(blank=True, verbose_name='комментарий руководителя')),
                ('created_by', models.ForeignKey(blank=True, help_text='Пусто у версий, перенесённых из заказов до учёта версий', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='автор')),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='решение принял')),
                ('limit_approved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='превышение лимита согласовал')),
                ('order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='versions', to='deals.order')),
            ],
            options={
                'verbose_name': 'версия заказа',
                'verbose_name_plural': 'версии заказов',
                'ordering': ['order', 'number'],
            },
        ),
        migrations.CreateModel(
            name='OrderVersionLine',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('quantity', models.DecimalField(decimal_places=3, max_digits=12, verbose_name='количество')),
                ('price', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='цена, ₽')),
                ('cost', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='себестоимость, ₽')),
                ('product', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to='deals.product', verbose_name='товар')),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='deals.orderversion')),
            ],
            options={
                'ordering': ['pk'],
            },
        ),
        migrations.AddIndex(
            model_name='orderversion',
            index=models.Index(fields=['status', 'created_at'], name='deals_order_status_6f8529_idx'),
        ),
        migrations.AddConstraint(
            model_name='orderversion',
            constraint=models.UniqueConstraint(fields=('order', 'number'), name='deals_orderversion_unique_number'),
        ),
        migrations.AddConstraint(
            model_name='orderversion',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('order',), name='deals_orderversion_one_pending'),
        ),
        migrations.AddConstraint(
            model_name='orderversion',
            constraint=models.CheckConstraint(condition=models.Q(('total__gte', 0), ('cost_total__gte', 0)), name='deals_orderversion_totals_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='orderversion',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status__in', ['approved', 'declined']), _negated=True), ('decided_at__isnull', False), _connector='OR'), name='deals_orderversion_decision_dated'),
        ),
        migrations.AddConstraint(
            model_name='orderversionline',
            constraint=models.CheckConstraint(condition=models.Q(('quantity__gt', 0)), name='deals_orderversionline_quantity_positive'),
        ),
        migrations.AddConstraint(
            model_name='orderversionline',
            constraint=models.CheckConstraint(condition=models.Q(('price__gte', 0), ('cost__gte', 0)), name='deals_orderversionline_prices_not_negative'),
        ),
    ]
