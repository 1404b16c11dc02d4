"""The customer's routes: a document reached through the signed link of an email or of the
payment's success page. Apart from the back office's, so that the documents worker, which writes
these links, can reverse them without loading the back office (vpos/urls_documents.py)."""

from django.urls import path

from .views import customer

urlpatterns = [
    path("r/<str:token>/", customer.public_download, name="public_download"),
]
