"""A link is one write to fewer indexes: the shop's own index (every other starts with the shop)
and the token's pattern-matching twin are dropped; the token stays unique, by a constraint."""

import django.db.models.deletion
from django.db import migrations, models

import links.models

from vpos.schema import OnPostgresql


class Migration(migrations.Migration):
    dependencies = [
        ("links", "0016_paymentlink_open_index"),
        ("merchants", "0008_fiscal_profile"),
    ]

    operations = [
        OnPostgresql(
            operations=[
                migrations.AlterField(
                    model_name="paymentlink",
                    name="merchant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="links",
                        to="merchants.merchant",
                    ),
                ),
                migrations.AlterField(
                    model_name="paymentlink",
                    name="token",
                    field=models.CharField(
                        default=links.models.link_token,
                        editable=False,
                        max_length=64,
                    ),
                ),
                migrations.AddConstraint(
                    model_name="paymentlink",
                    constraint=models.UniqueConstraint(fields=("token",), name="link_token_unique"),
                ),
            ],
            postgresql=[
                migrations.RunSQL(
                    sql=[
                        "DROP INDEX IF EXISTS links_paymentlink_merchant_id_7d8f93a2",
                        "DROP INDEX IF EXISTS links_paymentlink_token_362e4b68_like",
                        "ALTER TABLE links_paymentlink "
                        "RENAME CONSTRAINT links_paymentlink_token_key TO link_token_unique",
                    ],
                    reverse_sql=[
                        "ALTER TABLE links_paymentlink "
                        "RENAME CONSTRAINT link_token_unique TO links_paymentlink_token_key",
                        "CREATE INDEX links_paymentlink_token_362e4b68_like "
                        "ON links_paymentlink (token varchar_pattern_ops)",
                        "CREATE INDEX links_paymentlink_merchant_id_7d8f93a2 "
                        "ON links_paymentlink (merchant_id)",
                    ],
                ),
            ],
        ),
    ]
