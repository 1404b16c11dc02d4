from django.db import migrations, models


class Migration(migrations.Migration):
    """The dashboard counts the links paid in the last 30 days without reading every link."""

    dependencies = [
        ("links", "0007_payment_list_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="paymentlink",
            index=models.Index(fields=["merchant", "paid_at"], name="links_payme_merchan_019f21_idx"),
        ),
    ]
