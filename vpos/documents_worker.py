"""The lean Celery worker of the documents queue: receipts', refund notes' and invoices' PDFs,
invoices' files and exports.

    celery -A vpos.documents_worker worker --queues documents

The same app and tasks as `vpos.celery`, with VPOS_DOCUMENTS_WORKER set before the settings are
read: the settings then install only the apps rendering needs and the customers' routes
(vpos/settings/base.py). With what it never loads (cryptography until a secret is read:
vpos/crypto.py; Babel's locale data for the offered currencies: vpos/money.py; fontTools' font
machinery until a render needs it: vpos/deferred.py) and what it frees after each task
(`release_memory`), it holds under 100 MiB resident after a thousand renders on PostgreSQL
(bench/receipts.py), where the worker of every queue took 130; docs/performance.md,
"Receipts", has the breakdown. It must consume the documents queue only: the other queues' tasks
need the apps it leaves out.
"""

import ctypes
import gc
import os

from celery import signals

from vpos.deferred import defer

# Importing the `vpos` package created the app, but Django's settings are read lazily, when the
# worker starts: after this switch.
os.environ["VPOS_DOCUMENTS_WORKER"] = "true"

from vpos.celery import app

__all__ = ["app", "release_memory"]

# WeasyPrint, which the tasks' modules import when the worker starts, imports fontTools'
# subsetter, variable-font instancer and WOFF2 decoder (11 MiB) at import; a receipt's fonts need
# none of them (HarfBuzz subsets them), so they are loaded only if a render ever uses them.
defer("fontTools.subset")
defer("fontTools.varLib.instancer", callables=("instantiateVariableFont",))
defer("fontTools.ttLib.woff2")

# The process's own C library: glibc's has it; one without it (musl) gives free memory back itself.
_malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)


@signals.task_postrun.connect
def release_memory(**kwargs) -> None:
    """After each task: free what it left behind, and hand it back to the system.

    A render leaves reference cycles (WeasyPrint's boxes and styles) that Python's collector would
    reach only later, after the next tasks have allocated around them; and glibc's malloc keeps
    freed memory unless told to give it back. After the first task, what stays (modules, fonts,
    caches) is moved out of the collector's way (gc.freeze), so that each collection looks at one
    task's objects only: about 5 ms instead of 75."""
    gc.collect()
    if not gc.get_freeze_count():
        gc.freeze()
    if _malloc_trim is not None:
        _malloc_trim(0)
