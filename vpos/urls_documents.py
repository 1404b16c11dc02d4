"""The addresses the documents worker (vpos/documents_worker.py) writes into what it makes: the
customers' signed links to their documents. Only those routes, so that it loads no view of the
back office, the admin, the sign-in pages or the API (tests/vpos/test_documents_worker.py checks
that they reverse as in vpos.urls)."""

from django.urls import include, path

urlpatterns = [
    path("", include(("receipts.public_urls", "receipts"))),
]
