"""Customers' documents are private: no URL under /media/ reaches a receipt, a refund note or an
export, whatever DEBUG or SERVE_MEDIA say; their stored names give nothing away."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import Client

from links.models import Refund
from receipts.models import Receipt, ReceiptExport
from receipts.services import (
    export_build,
    receipt_ensure_pdf,
    refund_note_ensure,
    refund_note_issue,
)
from tests.support.documents import finalize
from tests.support.settings import REQUIRED, real_secrets
from vpos.documents import documents
from vpos.models import OutboxEmail

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(shop, link) -> tuple[list[str], list[str]]:
    """The names of a receipt, a refund note and an export ZIP, all stored."""
    payment = finalize(link, customer_name="Maria Rossi", customer_email="maria@example.com")
    receipt = receipt_ensure_pdf(receipt_id=payment.receipt.pk)
    refund = Refund.objects.create(
        merchant=shop.merchant, payment=payment, amount=100, currency=payment.currency
    )
    refund_note_issue(refund=refund, at=receipt.issued_at)
    note = refund_note_ensure(refund=refund)
    day = receipt.issued_at.date()
    export = ReceiptExport.objects.create(merchant=shop.merchant, date_from=day, date_to=day)
    export = export_build(export_id=export.pk)
    return [receipt.pdf.name, note.pdf.name, export.file.name], [receipt.number, note.number]


def test_documents_are_stored_privately_under_unguessable_names(stored, shop):
    names, numbers = stored
    for name in names:
        assert documents.exists(name)
        assert str(shop.merchant.public_id) not in name
        assert not any(number in name for number in numbers)
        assert len(Path(name).stem) >= 32


@pytest.mark.parametrize("debug", [True, False])
def test_no_media_url_serves_a_document_even_with_serve_media(stored, settings, debug):
    settings.DEBUG = debug
    settings.SERVE_MEDIA = True
    client = Client()
    for name in stored[0]:
        assert client.get(f"/media/{name}").status_code == 404
    # The old guessable layout neither.
    assert client.get("/media/receipts/").status_code == 404
    assert client.get("/media/exports/").status_code == 404


PROBE = """
import json
from django.conf import settings
from django.core.files.storage import storages
from django.test import Client
media = str(settings.MEDIA_ROOT)
documents = storages["documents"]
location = str(getattr(documents, "location", ""))
name = documents.save("receipts/probe.pdf", __import__("django.core.files.base", fromlist=["x"]).ContentFile(b"%PDF-probe"))
answer = Client().get("/media/" + name, HTTP_HOST="pay.example.com", secure=True)
documents.delete(name)
print(json.dumps({"media": media, "documents": location, "status": answer.status_code}))
"""


@pytest.mark.parametrize("module", ["vpos.settings.local", "vpos.settings.production"])
def test_documents_are_outside_public_media_in_every_settings_module(tmp_path, module):
    clean = {k: v for k, v in os.environ.items() if k not in {*REQUIRED, "DJANGO_SETTINGS_MODULE"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", PROBE],
        cwd=ROOT,
        env={
            **clean,
            **real_secrets(),
            "DJANGO_SETTINGS_MODULE": module,
            "ALLOWED_HOSTS": "pay.example.com",
            "SERVE_MEDIA": "true",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "DOCUMENTS_ROOT": str(tmp_path / "documents"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'probe.sqlite3'}",  # no query is needed
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert not Path(seen["documents"]).is_relative_to(seen["media"])
    assert seen["status"] == 404


def test_the_migration_moves_documents_out_of_public_media(shop, link):
    """Receipts stored before (guessable names under MEDIA_ROOT) move, and so do the attachments
    of emails still queued; the public copy is gone."""
    move = importlib.import_module(
        "receipts.migrations.0004_move_documents_to_private_storage"
    ).move
    payment = finalize(link)
    old = f"receipts/{shop.merchant.public_id}/2026/receipt-{payment.receipt.number}.pdf"
    storages["default"].save(old, ContentFile(b"%PDF-old"))
    Receipt.objects.filter(pk=payment.receipt.pk).update(pdf=old)
    email = OutboxEmail.objects.create(
        kind="payment_confirmation",
        to_email="maria@example.com",
        subject="Ricevuta",
        body_text="...",
        dedupe_key="migration-test",
        attachments=[{"path": old, "filename": "r.pdf", "mimetype": "application/pdf"}],
    )

    move(apps, None)

    receipt = Receipt.objects.get(pk=payment.receipt.pk)
    assert receipt.pdf.name != old
    assert not storages["default"].exists(old)
    with documents.open(receipt.pdf.name, "rb") as fh:
        assert fh.read() == b"%PDF-old"
    email.refresh_from_db()
    assert email.attachments[0]["storage"] == "documents"
    assert email.attachments[0]["path"] == receipt.pdf.name
