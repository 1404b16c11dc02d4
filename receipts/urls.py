from django.urls import path

from . import views

app_name = "receipts"

urlpatterns = [
    path("s/<uuid:shop_id>/receipts/", views.receipt_list, name="list"),
    path("s/<uuid:shop_id>/receipts/receipts.csv", views.receipt_csv, name="csv"),
    path("s/<uuid:shop_id>/receipts/<int:receipt_id>/pdf/", views.receipt_pdf, name="pdf"),
    path(
        "s/<uuid:shop_id>/refund-notes/<int:note_id>/pdf/",
        views.refund_note_pdf,
        name="refund_note_pdf",
    ),
    path("s/<uuid:shop_id>/receipts/exports/", views.export_create, name="export_create"),
    path(
        "s/<uuid:shop_id>/receipts/exports/<int:export_id>/",
        views.export_detail,
        name="export_detail",
    ),
    path(
        "s/<uuid:shop_id>/receipts/exports/<int:export_id>/download/",
        views.export_download,
        name="export_download",
    ),
    path("r/<str:token>/", views.public_download, name="public_download"),
]
