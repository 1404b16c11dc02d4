"""An audit entry is one write to fewer indexes: the shop's own index (the others start with the
shop) and the action's pattern-matching twin are dropped; the action keeps one, renamed."""

import django.db.models.deletion
from django.db import migrations, models

from vpos.schema import OnPostgresql


class Migration(migrations.Migration):
    dependencies = [
        ("vpos", "0004_retention"),
        ("merchants", "0001_initial"),
    ]

    operations = [
        OnPostgresql(
            operations=[
                migrations.AlterField(
                    model_name="auditentry",
                    name="action",
                    field=models.CharField(max_length=50, verbose_name="action"),
                ),
                migrations.AlterField(
                    model_name="auditentry",
                    name="merchant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="audit_entries",
                        to="merchants.merchant",
                        verbose_name="shop",
                    ),
                ),
                migrations.AddIndex(
                    model_name="auditentry",
                    index=models.Index(fields=["action"], name="audit_action"),
                ),
            ],
            postgresql=[
                migrations.RunSQL(
                    sql=[
                        "DROP INDEX IF EXISTS vpos_auditentry_merchant_id_aa3b008d",
                        "DROP INDEX IF EXISTS vpos_auditentry_action_7c601714_like",
                        "ALTER INDEX vpos_auditentry_action_7c601714 RENAME TO audit_action",
                    ],
                    reverse_sql=[
                        "ALTER INDEX audit_action RENAME TO vpos_auditentry_action_7c601714",
                        "CREATE INDEX vpos_auditentry_action_7c601714_like "
                        "ON vpos_auditentry (action varchar_pattern_ops)",
                        "CREATE INDEX vpos_auditentry_merchant_id_aa3b008d "
                        "ON vpos_auditentry (merchant_id)",
                    ],
                ),
            ],
        ),
    ]
