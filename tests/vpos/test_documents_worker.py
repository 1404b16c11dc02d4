"""The lean documents worker (vpos/documents_worker.py): it loads only what rendering needs, has
every task of the documents queue, writes the same customer links as the web, and its tasks
record no event that an app it leaves out would act on (the webhooks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.urls import reverse

from integrations.webhooks import EVENTS
from merchants.models import FiscalProfile
from receipts import tasks as receipt_tasks
from receipts.models import Invoice, ReceiptExport, RefundNote
from receipts.services import INVOICES_EXPORT, RECEIPTS_EXPORT
from tests.receipts.test_invoices import paid, refund
from tests.support.invoices import BUSINESS
from vpos import events

PROBE = """
import json, sys
from datetime import UTC, datetime
import vpos.documents_worker
import django
django.setup()
from django.conf import settings
from django.urls import reverse
from vpos.celery import app
app.loader.import_default_modules()
from receipts.models import Receipt
from receipts.services import receipt_html, render_pdf
snapshot = {
    "merchant": {"name": "Bottega", "time_zone": "Europe/Rome", "logo": ""},
    "customer": {"name": "Cliente", "email": "cliente@example.com"},
    "description": "Restauro", "amount": 12200, "currency": "EUR", "vat_rate": 22,
    "taxable_amount": 10000, "vat_amount": 2200, "card_last4": "4242", "link_id": 1,
}
pdfs = [
    render_pdf(receipt_html(Receipt(
        number="2026-000001", language=language, issued_at=datetime(2026, 3, 1, tzinfo=UTC),
        amount=12200, currency=currency, snapshot={**snapshot, "currency": currency},
    )))
    for language in ("it", "en") for currency in ("EUR", "USD", "GBP", "CHF", "JPY")
]
from vpos.deferred import DeferredModule
deferred = ["fontTools.subset", "fontTools.varLib.instancer", "fontTools.ttLib.woff2"]
still_deferred = [
    name for name in deferred if isinstance(sys.modules.get(name), DeferredModule)
]
varlib_loaded = "fontTools.varLib" in sys.modules
# A render that does need fontTools' subsetter (a system without HarfBuzz's) loads it then.
import weasyprint.pdf.fonts
weasyprint.pdf.fonts.harfbuzz_subset = None
import logging
logging.disable(logging.WARNING)  # WeasyPrint's warning about that fallback
fallback = render_pdf(receipt_html(Receipt(
    number="2026-000002", language="it", issued_at=datetime(2026, 3, 1, tzinfo=UTC),
    amount=12200, currency="EUR", snapshot={**snapshot, "currency": "EUR"},
)))
subsetter_loaded = not isinstance(sys.modules.get("fontTools.subset"), DeferredModule)
import gc, weakref
from celery import signals
import vpos.documents_worker as worker
trims = []
worker._malloc_trim = trims.append
gc.disable()  # only the end of the task may collect the cycle below
class Node: pass
node = Node()
node.cycle = node
garbage = weakref.ref(node)
del node
signals.task_postrun.send(sender=None, task_id="probe", task=None, state="SUCCESS")
print(json.dumps({
    "apps": list(settings.INSTALLED_APPS),
    "tasks": sorted(name for name in app.tasks if not name.startswith("celery.")),
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
    "all_modules": sorted(sys.modules),
    "link": reverse("receipts:public_download", args=["abc"]),
    "rendered": all(pdf.startswith(b"%PDF-") for pdf in pdfs),
    "still_deferred": still_deferred,
    "varlib_loaded": varlib_loaded,
    "fallback_rendered": fallback.startswith(b"%PDF-"),
    "subsetter_loaded": subsetter_loaded,
    "trims": trims,
    "garbage_left": garbage() is not None,
    "frozen": gc.get_freeze_count(),
}))
"""


@pytest.fixture(scope="module")
def lean() -> dict:
    """What a process set up as the documents worker has loaded."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
    env.pop("VPOS_DOCUMENTS_WORKER", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        env=env,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_leaves_out_the_admin_sign_in_api_and_their_sdks(lean):
    assert "integrations" not in lean["apps"]
    assert not {"allauth", "rest_framework", "drf_spectacular", "django.contrib.admin"} & set(
        lean["apps"]
    )
    assert not {"stripe", "rest_framework", "allauth", "xmlschema", "aiohttp"} & set(
        lean["modules"]
    )


def test_it_renders_receipts_without_cryptography_babels_locale_data_or_stdnum(lean):
    # Each holds megabytes: secrets are never read there (vpos/crypto.py), and amounts in the
    # offered currencies are written without Babel (vpos/money.py).
    assert lean["rendered"]
    loaded = set(lean["all_modules"])
    assert not {"cryptography.fernet", "cryptography.hazmat", "babel.numbers"} & loaded
    # Nor python-stdnum (with pydoc): tax identifiers are checked in the web's forms, not here.
    assert not {"stdnum", "pydoc"} & loaded


def test_it_loads_fonttools_font_machinery_only_if_a_render_needs_it(lean):
    # WeasyPrint imports fontTools' subsetter, variable-font instancer and WOFF2 decoder (11 MiB)
    # at import; receipts never use them (HarfBuzz subsets the fonts), so the worker defers them
    # (vpos.deferred): after ten renders they are still stand-ins.
    assert lean["rendered"]
    assert lean["still_deferred"] == [
        "fontTools.subset",
        "fontTools.varLib.instancer",
        "fontTools.ttLib.woff2",
    ]
    assert not lean["varlib_loaded"]
    # A render that needs one (here fontTools' subsetter, without HarfBuzz's) gets the real one.
    assert lean["fallback_rendered"]
    assert lean["subsetter_loaded"]


def test_it_frees_each_tasks_garbage_and_gives_the_memory_back(lean):
    # vpos.documents_worker.release_memory, at the end of each task: the task's reference cycles
    # are collected at once, what stays is frozen out of later collections, and glibc's
    # malloc_trim(0) hands the freed memory back.
    assert not lean["garbage_left"]
    assert lean["frozen"] > 0
    assert lean["trims"] == [0]


def test_it_has_every_task_of_the_documents_queue(lean):
    documents = {
        task for task, route in settings.CELERY_TASK_ROUTES.items() if route["queue"] == "documents"
    }
    assert documents
    assert documents <= set(lean["tasks"]), documents - set(lean["tasks"])


def test_its_customer_links_are_the_webs(lean):
    assert lean["link"] == reverse("receipts:public_download", args=["abc"])


@pytest.fixture
def recorded():
    """Every event recorded while the fixture is active."""
    seen: list[str] = []

    def note(event) -> None:
        seen.append(str(event.event))

    saved = {event: list(subscribers) for event, subscribers in events._subscribers.items()}
    events.subscribe(note, *events.Event)
    yield seen
    events._subscribers.clear()
    events._subscribers.update(saved)


@pytest.mark.django_db
def test_its_tasks_record_no_event_that_a_webhook_publishes(
    shop, recorded, django_capture_on_commit_callbacks
):
    FiscalProfile.objects.create(merchant=shop.merchant, invoicing="request")
    with django_capture_on_commit_callbacks(execute=False):
        payment = paid(shop.merchant, BUSINESS)
        refund(payment, 1000)
    recorded.clear()
    with django_capture_on_commit_callbacks(execute=True):
        receipt_tasks.receipt_render(payment.receipt.pk)
        receipt_tasks.refund_note_render(RefundNote.objects.get().pk)
        for invoice in Invoice.objects.all():
            receipt_tasks.invoice_followups(invoice.pk)
        for kind in (RECEIPTS_EXPORT, INVOICES_EXPORT):
            export = ReceiptExport.objects.create(
                merchant=shop.merchant,
                kind=kind,
                date_from=payment.succeeded_at.date(),
                date_to=payment.succeeded_at.date(),
            )
            receipt_tasks.receipt_export_build(export.pk)
    assert recorded  # the tasks did record (deliveries), so the check below means something
    assert not set(recorded) & set(EVENTS)
