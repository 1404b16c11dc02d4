"""An API write's Idempotency-Key and a webhook delivery are written without the foreign key's
own index: the key's unique constraint starts with the API key, the deliveries' index with the
endpoint."""

from django.db import migrations
from django.db.models.deletion import CASCADE

from vpos.schema import OnPostgresql, drop_indexes, foreign_key_without_index

FOREIGN_KEYS = [  # model, field, related_name, to, table, the dropped index's suffix
    ("apiidempotencykey", "api_key", "+", "apikey", "merchants_apiidempotencykey", "6477df26"),
    (
        "webhookdelivery",
        "endpoint",
        "deliveries",
        "webhookendpoint",
        "merchants_webhookdelivery",
        "4018f0cc",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
    ]

    operations = [
        OnPostgresql(
            operations=[
                foreign_key_without_index(
                    model,
                    name,
                    on_delete=CASCADE,
                    related_name=related_name,
                    to=f"integrations.{to}",
                )
                for model, name, related_name, to, _table, _suffix in FOREIGN_KEYS
            ],
            postgresql=[
                drop_indexes(
                    *(
                        (f"{table}_{name}_id_{suffix}", f"{table} ({name}_id)")
                        for _model, name, _related, _to, table, suffix in FOREIGN_KEYS
                    )
                ),
            ],
        ),
    ]
