from django.urls import path

from . import public_urls
from .views import back_office, invoices, payment_exports

app_name = "receipts"

urlpatterns = [
    path("s/<uuid:shop_id>/receipts/", back_office.receipt_list, name="list"),
    path("s/<uuid:shop_id>/receipts/receipts.csv", back_office.receipt_csv, name="csv"),
    path("s/<uuid:shop_id>/receipts/<int:receipt_id>/pdf/", back_office.receipt_pdf, name="pdf"),
    path(
        "s/<uuid:shop_id>/refund-notes/<int:note_id>/pdf/",
        back_office.refund_note_pdf,
        name="refund_note_pdf",
    ),
    path("s/<uuid:shop_id>/receipts/exports/", back_office.export_create, name="export_create"),
    path(
        "s/<uuid:shop_id>/receipts/exports/<int:export_id>/",
        back_office.export_detail,
        name="export_detail",
    ),
    path(
        "s/<uuid:shop_id>/receipts/exports/<int:export_id>/download/",
        back_office.export_download,
        name="export_download",
    ),
    path(
        "s/<uuid:shop_id>/receipts/exports/<int:export_id>/retry/",
        back_office.export_retry,
        name="export_retry",
    ),
    path(
        "s/<uuid:shop_id>/payments/exports/",
        payment_exports.payment_exports,
        name="payment_exports",
    ),
    path("s/<uuid:shop_id>/invoices/", invoices.invoice_list, name="invoices"),
    path(
        "s/<uuid:shop_id>/invoices/exports/",
        invoices.invoice_export_create,
        name="invoice_export_create",
    ),
    path(
        "s/<uuid:shop_id>/invoices/<uuid:invoice_id>/xml/",
        invoices.invoice_xml,
        name="invoice_xml",
    ),
    path(
        "s/<uuid:shop_id>/invoices/<uuid:invoice_id>/pdf/",
        invoices.invoice_pdf,
        name="invoice_pdf",
    ),
    *public_urls.urlpatterns,
]
