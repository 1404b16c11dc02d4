"""Where customers' documents live: receipts, refund notes and exports, never public media.

A storage of their own (`STORAGES["documents"]`: a folder outside MEDIA_ROOT, or a private prefix
of the bucket with S3) under random names: no URL under /media/ reaches them, whatever DEBUG or
SERVE_MEDIA say, and a name gives nothing away (no shop, no number, no date). Staff download them
through the back office, customers through their signed link, integrators through the API.
"""

from __future__ import annotations

import secrets

from django.core.files.storage import Storage, storages
from django.utils.functional import LazyObject

ALIAS = "documents"


class _Documents(LazyObject):
    def _setup(self) -> None:
        self._wrapped = storages[ALIAS]


documents = _Documents()


def documents_storage() -> Storage:
    """For `FileField(storage=...)`: the callable keeps the migrations free of settings."""
    return documents


def document_name(folder: str, extension: str) -> str:
    """A new, unguessable name: `receipts/2gD1…x9.pdf`."""
    return f"{folder}/{secrets.token_urlsafe(24)}.{extension}"
