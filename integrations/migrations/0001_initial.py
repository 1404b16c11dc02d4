"""The API keys, idempotency records and webhook models move here from `merchants`: state only.
The tables keep their names and their rows (`db_table`); nothing is run on the database."""


import django.db.models.deletion
import uuid
import vpos.crypto
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('merchants', '0005_retention'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ApiKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, verbose_name='name')),
                        ('scope', models.CharField(choices=[('read', 'Read only'), ('read_write', 'Read and write')], default='read_write', max_length=10, verbose_name='permissions')),
                        ('prefix', models.CharField(editable=False, max_length=24, verbose_name='key starts with')),
                        ('secret_hash', models.CharField(editable=False, max_length=64, unique=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                        ('last_used_at', models.DateTimeField(blank=True, null=True, verbose_name='last used')),
                        ('revoked_at', models.DateTimeField(blank=True, null=True, verbose_name='revoked')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('merchant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_keys', to='merchants.merchant')),
                    ],
                    options={
                        'verbose_name': 'API key',
                        'verbose_name_plural': 'API keys',
                        'db_table': 'merchants_apikey',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='WebhookEndpoint',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ('url', models.URLField(max_length=500, verbose_name='URL')),
                        ('events', models.JSONField(default=list, verbose_name='events')),
                        ('secret_encrypted', vpos.crypto.EncryptedTextField(editable=False)),
                        ('secret_hint', models.CharField(blank=True, editable=False, max_length=16)),
                        ('is_active', models.BooleanField(default=True, verbose_name='enabled')),
                        ('failing_since', models.DateTimeField(blank=True, editable=False, null=True)),
                        ('disabled_at', models.DateTimeField(blank=True, null=True, verbose_name='disabled')),
                        ('disabled_reason', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('merchant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhook_endpoints', to='merchants.merchant')),
                    ],
                    options={
                        'verbose_name': 'webhook endpoint',
                        'verbose_name_plural': 'webhook endpoints',
                        'db_table': 'merchants_webhookendpoint',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ApiIdempotencyKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=255)),
                        ('operation', models.CharField(max_length=100)),
                        ('request_hash', models.CharField(max_length=64)),
                        ('object_id', models.CharField(blank=True, max_length=64)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('api_key', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='integrations.apikey')),
                    ],
                    options={
                        'db_table': 'merchants_apiidempotencykey',
                        'constraints': [models.UniqueConstraint(fields=('api_key', 'key'), name='idempotency_unique_key')],
                    },
                ),
                migrations.CreateModel(
                    name='WebhookDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ('event_id', models.CharField(max_length=40)),
                        ('event_type', models.CharField(max_length=40, verbose_name='event')),
                        ('payload', models.JSONField()),
                        ('payload_purged_at', models.DateTimeField(blank=True, editable=False, null=True)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('succeeded', 'Delivered'), ('failed', 'Failed')], default='pending', max_length=10, verbose_name='status')),
                        ('attempts', models.PositiveIntegerField(default=0, verbose_name='attempts')),
                        ('attempt_log', models.JSONField(blank=True, default=list)),
                        ('last_status_code', models.PositiveIntegerField(blank=True, null=True, verbose_name='last answer')),
                        ('last_error', models.CharField(blank=True, max_length=500, verbose_name='last error')),
                        ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                        ('delivered_at', models.DateTimeField(blank=True, null=True, verbose_name='delivered')),
                        ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='integrations.webhookendpoint')),
                    ],
                    options={
                        'verbose_name': 'webhook delivery',
                        'verbose_name_plural': 'webhook deliveries',
                        'db_table': 'merchants_webhookdelivery',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['endpoint', '-created_at'], name='merchants_w_endpoin_642682_idx'), models.Index(fields=['status', 'next_attempt_at'], name='merchants_w_status_2751a7_idx')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
