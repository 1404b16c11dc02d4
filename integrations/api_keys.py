"""API keys: created by owners, shown once, stored as a SHA-256 of the secret, revocable.

Every API request needs its key and the key's shop. Each process keeps the keys it has seen, with
their shop, so a request reads no row for them; it asks the shared cache one thing instead: the
version of the API keys, which any change to a key (created, revoked, deleted) or to a shop row
replaces at once and again after commit (`api_keys_changed`). A key is used from memory only
while the version is the one read before its row was, so a revoked key is refused by every
process at the next request. Should the cache lose that change, a remembered key is read again
after `KNOWN_SECONDS` anyway. Without a cache every process shares (`BACKOFFICE_CACHE` off),
every request reads the key.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from links.providers import is_live
from merchants import caching
from merchants.models import Merchant, User
from vpos.events import Event, record

from .models import ApiKey

# The part after the prefix carries 256 random bits.
SECRET_BYTES = 32
VISIBLE_CHARS = 6
# last_used_at is written at most this often per key: a busy integration costs no write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# How long a process uses a key from memory at most, should the cache lose a change.
KNOWN_SECONDS = 60
KNOWN_MAX = 1000
_VERSION = "api:keys:version"


def key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(
    *, merchant: Merchant, name: str, scope: str, actor: User | None
) -> tuple[ApiKey, str]:
    """Make a key; the returned plain text is never stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise ValidationError(_("Give the key a name."), code="name")
    if scope not in ApiKey.Scope.values:
        raise ValidationError(_("Choose the key's permissions."), code="scope")
    mode = "live" if is_live(merchant) else "test"
    raw = f"vpos_{mode}_{secrets.token_urlsafe(SECRET_BYTES)}"
    api_key = ApiKey.objects.create(
        merchant=merchant,
        name=name[:100],
        scope=scope,
        prefix=raw[: len(f"vpos_{mode}_") + VISIBLE_CHARS],
        secret_hash=key_hash(raw),
        created_by=actor,
    )
    record(
        Event.API_KEY_CREATED,
        merchant_id=merchant.pk,
        obj=api_key,
        actor=actor,
        summary=f"{api_key.name} ({api_key.prefix}…, {api_key.get_scope_display()})",
    )
    return api_key, raw


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User | None) -> ApiKey:
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    api_key.refresh_from_db()
    if updated:
        api_keys_changed()
        record(
            Event.API_KEY_REVOKED,
            merchant_id=api_key.merchant_id,
            obj=api_key,
            actor=actor,
            summary=f"{api_key.name} ({api_key.prefix}…)",
        )
    return api_key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key with this secret (with its shop), or None; records when it was last used.

    The caller gets its own copy of the key and of its shop: nothing it loads or changes on them
    reaches another request."""
    if not raw.startswith(("vpos_live_", "vpos_test_")) or len(raw) > 200:
        return None
    digest = key_hash(raw)
    known = _known_key(digest)
    if known is None:
        return None
    now = timezone.now()
    api_key = known.api_key
    if api_key.last_used_at is None or api_key.last_used_at < now - LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    mine = copy.copy(api_key)
    merchant = copy.copy(api_key.merchant)
    mine._state.fields_cache = {"merchant": merchant}
    return mine


@dataclass
class _Known:
    api_key: ApiKey
    version: str
    until: float


# This process's keys, by the hash of their secret. Only valid keys are kept: unknown secrets
# cost a query each, as before, and take no memory.
_keys: dict[str, _Known] = {}


def _known_key(digest: str) -> _Known | None:
    # Without a cache every process shares (merchants.caching says when), nothing is kept.
    version = caching.version_of(_VERSION) if caching.enabled() else None
    known = _keys.get(digest)
    if known is not None and known.version == version and known.until > time.monotonic():
        return known
    # Read after the version: a change committed from now on replaces it.
    api_key = (
        ApiKey.objects.select_related("merchant")
        .filter(secret_hash=digest, revoked_at__isnull=True)
        .order_by()
        .first()
    )
    if api_key is None:
        _keys.pop(digest, None)
        return None
    known = _Known(api_key, version or "", time.monotonic() + KNOWN_SECONDS)
    if version is not None:
        if len(_keys) >= KNOWN_MAX:
            _keys.clear()
        _keys[digest] = known
    return known


def api_keys_changed() -> None:
    """A key or a shop row changed: every process reads its keys again, at the next request
    (the version is replaced before this transaction reads it again, and after commit)."""
    caching.version_replace(_VERSION)


def _row_changed(sender: type, **kwargs: Any) -> None:
    api_keys_changed()


def connect_signals() -> None:
    """A key's row or its shop's (name, payment methods, language...) saved or deleted.
    `QuerySet.update()` on either calls api_keys_changed itself (see api_key_revoke)."""
    for model in (ApiKey, Merchant):
        post_save.connect(
            _row_changed, sender=model, dispatch_uid=f"api-keys-save-{model.__name__}"
        )
        post_delete.connect(
            _row_changed, sender=model, dispatch_uid=f"api-keys-delete-{model.__name__}"
        )
