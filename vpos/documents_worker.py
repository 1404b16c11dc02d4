"""The lean Celery worker of the documents queue: receipts', refund notes' and invoices' PDFs,
invoices' files and exports.

    celery -A vpos.documents_worker worker --queues documents

The same app and tasks as `vpos.celery`, with VPOS_DOCUMENTS_WORKER set before the settings are
read: the settings then install only the apps rendering needs and the customers' routes
(vpos/settings/base.py), which keeps the worker under 100 MiB resident after a thousand renders
(bench/receipts.py) where the full one needs 130. It must consume the documents queue only: the
other queues' tasks need the apps it leaves out.
"""

import os

# Importing the `vpos` package created the app, but Django's settings are read lazily, when the
# worker starts: after this switch.
os.environ["VPOS_DOCUMENTS_WORKER"] = "true"

from vpos.celery import app

__all__ = ["app"]
