from django.urls import path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from . import views

app_name = "api"

_public = {"authentication_classes": [], "permission_classes": [], "throttle_classes": []}

urlpatterns = [
    path("links", views.links, name="links"),
    path("links/<str:link_id>", views.link_detail, name="link_detail"),
    path("links/<str:link_id>/deactivate", views.link_deactivate, name="link_deactivate"),
    path("payments", views.payments, name="payments"),
    path("payments/<str:payment_id>", views.payment_detail, name="payment_detail"),
    path("payments/<str:payment_id>/refunds", views.payment_refund, name="payment_refund"),
    path("payments/<str:payment_id>/capture", views.payment_capture, name="payment_capture"),
    path("payments/<str:payment_id>/cancel", views.payment_cancel, name="payment_cancel"),
    path(
        "payments/<str:payment_id>/receipt", views.PaymentReceipt.as_view(), name="payment_receipt"
    ),
    path(
        "payments/<str:payment_id>/refunds/<str:refund_id>/note",
        views.RefundNotePdf.as_view(),
        name="refund_note",
    ),
    path("invoices", views.invoices, name="invoices"),
    path("invoices/<str:invoice_id>", views.invoice_detail, name="invoice_detail"),
    path("invoices/<str:invoice_id>/xml", views.InvoiceXml.as_view(), name="invoice_xml"),
    path("invoices/<str:invoice_id>/pdf", views.InvoicePdf.as_view(), name="invoice_pdf"),
    path("schema", SpectacularAPIView.as_view(**_public), name="schema"),
    path(
        "docs", SpectacularSwaggerSplitView.as_view(url_name="api:schema", **_public), name="docs"
    ),
    path("redoc", SpectacularRedocView.as_view(url_name="api:schema", **_public), name="redoc"),
    re_path(r"^.*$", views.not_found),
]
