"""Receipts, refund notes and exports move from public media (guessable names under MEDIA_ROOT)
to the private documents storage under random names; queued emails follow their attachments."""

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import migrations

from vpos.documents import document_name

MOVES = [
    ("Receipt", "pdf", "receipts", "pdf"),
    ("RefundNote", "pdf", "refund-notes", "pdf"),
    ("ReceiptExport", "file", "exports", "zip"),
]


def move(apps, schema_editor):
    media, documents = storages["default"], storages["documents"]
    moved = {}
    for model_name, field, folder, extension in MOVES:
        model = apps.get_model("receipts", model_name)
        for row in model.objects.exclude(**{field: ""}).iterator():
            old = getattr(row, field).name
            if not media.exists(old):
                continue  # already moved, or lost: a PDF is rendered again when asked for
            with media.open(old, "rb") as fh:
                new = documents.save(document_name(folder, extension), ContentFile(fh.read()))
            model.objects.filter(pk=row.pk).update(**{field: new})
            moved[old] = new
    outbox = apps.get_model("vpos", "OutboxEmail")
    for email in outbox.objects.exclude(attachments=[]).iterator():
        attachments = [
            {**a, "storage": "documents", "path": moved[a["path"]]} if a["path"] in moved else a
            for a in email.attachments
        ]
        if attachments != email.attachments:
            outbox.objects.filter(pk=email.pk).update(attachments=attachments)
    for old in moved:
        media.delete(old)


class Migration(migrations.Migration):
    dependencies = [
        ("receipts", "0003_private_documents"),
        ("vpos", "0003_outbox_sending"),
    ]

    operations = [migrations.RunPython(move, migrations.RunPython.noop)]
