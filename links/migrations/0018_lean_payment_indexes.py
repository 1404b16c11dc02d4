"""A payment, a refund, a Stripe event and a day's totals are each written to fewer indexes: the
foreign keys' own (every other index of their table starts with the shop or the link) and the
pattern-matching twins of the Stripe ids, which are only ever looked up whole. The ids stay
unique, by constraints."""

from django.db import migrations, models
from django.db.models.deletion import CASCADE, PROTECT

from vpos.schema import (
    OnPostgresql,
    drop_indexes,
    foreign_key_without_index,
    rename_constraint,
)

FOREIGN_KEYS = [  # model, field, on_delete, related_name, to
    ("dailytotal", "merchant", CASCADE, "+", "merchants.merchant"),
    ("payment", "link", PROTECT, "payments", "links.paymentlink"),
    ("payment", "merchant", PROTECT, "payments", "merchants.merchant"),
]
UNIQUE_IDS = [  # model, field, verbose name (or None), table, constraint
    ("payment", "provider_id", "Stripe payment id", "links_payment", "payment_provider_id_unique"),
    ("refund", "provider_id", "Stripe refund id", "links_refund", "refund_provider_id_unique"),
    ("stripeevent", "event_id", None, "links_stripeevent", "stripe_event_unique"),
]


def _unique_id(verbose_name: str | None) -> models.CharField:
    if verbose_name is None:
        return models.CharField(max_length=255)
    return models.CharField(blank=True, max_length=255, null=True, verbose_name=verbose_name)


class Migration(migrations.Migration):
    dependencies = [
        ("links", "0017_lean_indexes"),
        ("merchants", "0008_fiscal_profile"),
    ]

    operations = [
        OnPostgresql(
            operations=[
                *(
                    foreign_key_without_index(
                        model, name, on_delete=on_delete, related_name=related, to=to
                    )
                    for model, name, on_delete, related, to in FOREIGN_KEYS
                ),
                *(
                    migrations.AlterField(
                        model_name=model, name=name, field=_unique_id(verbose_name)
                    )
                    for model, name, verbose_name, _table, _constraint in UNIQUE_IDS
                ),
                *(
                    migrations.AddConstraint(
                        model_name=model,
                        constraint=models.UniqueConstraint(fields=(name,), name=constraint),
                    )
                    for model, name, _verbose_name, _table, constraint in UNIQUE_IDS
                ),
            ],
            postgresql=[
                drop_indexes(
                    ("links_dailytotal_merchant_id_0392fdc3", "links_dailytotal (merchant_id)"),
                    ("links_payment_link_id_08eefa52", "links_payment (link_id)"),
                    ("links_payment_merchant_id_822fc48f", "links_payment (merchant_id)"),
                    (
                        "links_payment_provider_id_188fd003_like",
                        "links_payment (provider_id varchar_pattern_ops)",
                    ),
                    (
                        "links_refund_provider_id_8e325496_like",
                        "links_refund (provider_id varchar_pattern_ops)",
                    ),
                    (
                        "links_stripeevent_event_id_4858b0f0_like",
                        "links_stripeevent (event_id varchar_pattern_ops)",
                    ),
                ),
                *(
                    rename_constraint(table, f"{table}_{name}_key", constraint)
                    for _model, name, _verbose_name, table, constraint in UNIQUE_IDS
                ),
            ],
        ),
    ]
