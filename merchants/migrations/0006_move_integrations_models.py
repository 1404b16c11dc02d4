"""API keys, idempotency records and webhooks now belong to `integrations` (its 0001): removed
from this app's state only, the tables and rows stay."""


from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('merchants', '0005_retention'),
        ('integrations', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='apikey',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='apikey',
                    name='merchant',
                ),
                migrations.RemoveField(
                    model_name='webhookdelivery',
                    name='endpoint',
                ),
                migrations.RemoveField(
                    model_name='webhookendpoint',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='webhookendpoint',
                    name='merchant',
                ),
                migrations.DeleteModel(
                    name='ApiIdempotencyKey',
                ),
                migrations.DeleteModel(
                    name='ApiKey',
                ),
                migrations.DeleteModel(
                    name='WebhookDelivery',
                ),
                migrations.DeleteModel(
                    name='WebhookEndpoint',
                ),
            ],
            database_operations=[],
        ),
    ]
