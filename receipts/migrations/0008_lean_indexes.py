"""Receipts, refund notes, invoices and the numbering rows are written without an index on the
shop alone: every other index of their tables starts with the shop."""

from django.db import migrations
from django.db.models.deletion import CASCADE, PROTECT

from vpos.schema import OnPostgresql, drop_indexes, foreign_key_without_index

TABLES = [  # model, table, on_delete, related_name, the dropped index's suffix
    ("invoice", "receipts_invoice", PROTECT, "invoices", "9e2aa9cd"),
    ("receipt", "receipts_receipt", PROTECT, "receipts", "7e43877d"),
    ("receiptsequence", "receipts_receiptsequence", CASCADE, "+", "ff02f148"),
    ("refundnote", "receipts_refundnote", PROTECT, "refund_notes", "0f7490ed"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0008_fiscal_profile"),
        ("receipts", "0007_payments_exports"),
    ]

    operations = [
        OnPostgresql(
            operations=[
                foreign_key_without_index(
                    model,
                    "merchant",
                    on_delete=on_delete,
                    related_name=related_name,
                    to="merchants.merchant",
                )
                for model, _table, on_delete, related_name, _suffix in TABLES
            ],
            postgresql=[
                drop_indexes(
                    *(
                        (f"{table}_merchant_id_{suffix}", f"{table} (merchant_id)")
                        for _model, table, _on_delete, _related_name, suffix in TABLES
                    )
                ),
            ],
        ),
    ]
