"""The public checkout page's cache: the payable page is the same HTML for every visitor, so it
is kept for a few seconds, in the shared cache and in each process (busy links, QR codes on a
counter). A link whose status changes forgets its pages (`links.lifecycle`)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache, caches

LOCAL_PAGE_SECONDS = 2
LANGUAGES = {code for code, _name in settings.LANGUAGES}


def page_cache_key(token: str, lang: str) -> str:
    return f"checkout-page:{token}:{lang}"


def page_cache_forget(token: str) -> None:
    """Drop a link's cached pages (its status changed). Other processes' local copies live at
    most LOCAL_PAGE_SECONDS more; paying re-checks the link under its lock anyway."""
    keys = [page_cache_key(token, lang) for lang in ("", *sorted(LANGUAGES))]
    cache.delete_many(keys)
    caches["local"].delete_many(keys)


def cached_page(key: str) -> dict | None:
    local = caches["local"]
    entry = local.get(key)
    if entry is None:
        entry = cache.get(key)
        if entry is not None:
            local.set(key, entry, LOCAL_PAGE_SECONDS)
    return entry
