"""An outbox email is written to two fewer indexes: the shop's own (the others start with the
shop) and the pattern-matching twin of its ref, which is only ever looked up whole."""

from django.db import migrations, models
from django.db.models.deletion import CASCADE

from vpos.schema import OnPostgresql, drop_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0008_fiscal_profile"),
        ("vpos", "0005_lean_indexes"),
    ]

    operations = [
        OnPostgresql(
            operations=[
                migrations.AlterField(
                    model_name="outboxemail",
                    name="merchant",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=CASCADE,
                        related_name="emails",
                        to="merchants.merchant",
                        verbose_name="shop",
                    ),
                ),
                migrations.AlterField(
                    model_name="outboxemail",
                    name="ref",
                    field=models.CharField(
                        blank=True,
                        help_text="What the email is about, e.g. 'link:42'.",
                        max_length=80,
                        verbose_name="related object",
                    ),
                ),
                migrations.AddIndex(
                    model_name="outboxemail",
                    index=models.Index(fields=["ref"], name="outbox_email_ref"),
                ),
            ],
            postgresql=[
                drop_indexes(
                    ("vpos_outboxemail_merchant_id_b2631fee", "vpos_outboxemail (merchant_id)"),
                    (
                        "vpos_outboxemail_ref_1f1e8e1c_like",
                        "vpos_outboxemail (ref varchar_pattern_ops)",
                    ),
                ),
                migrations.RunSQL(
                    sql="ALTER INDEX vpos_outboxemail_ref_1f1e8e1c RENAME TO outbox_email_ref",
                    reverse_sql="ALTER INDEX outbox_email_ref RENAME TO vpos_outboxemail_ref_1f1e8e1c",
                ),
            ],
        ),
    ]
