"""Daily totals for the dashboard (links.daily_totals), filled from the payments already there:
one grouped query per time zone the shops use."""

import django.db.models.deletion
from django.db import migrations, models

from links.daily_totals import totals_by_day


def fill(apps, schema_editor):
    Merchant = apps.get_model("merchants", "Merchant")
    Payment = apps.get_model("links", "Payment")
    DailyTotal = apps.get_model("links", "DailyTotal")
    for time_zone in Merchant.objects.order_by().values_list("time_zone", flat=True).distinct():
        rows = totals_by_day(Payment.objects.filter(merchant__time_zone=time_zone), time_zone)
        DailyTotal.objects.bulk_create((DailyTotal(**row) for row in rows), batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ('links', '0014_invoice_details'),
        ('merchants', '0008_fiscal_profile'),
    ]

    operations = [
        migrations.CreateModel(
            name='DailyTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('currency', models.CharField(max_length=3)),
                ('payments', models.PositiveIntegerField(default=0)),
                ('gross', models.PositiveBigIntegerField(default=0)),
                ('refunded', models.PositiveBigIntegerField(default=0)),
                ('merchant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='merchants.merchant')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('merchant', 'day', 'currency'), name='daily_total_unique')],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
