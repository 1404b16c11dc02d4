"""API keys: created by owners, shown once, stored as a SHA-256 of the secret, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from links.providers import is_live
from merchants.models import Merchant, User
from vpos.events import Event, record

from .models import ApiKey

# The part after the prefix carries 256 random bits.
SECRET_BYTES = 32
VISIBLE_CHARS = 6
# last_used_at is written at most this often per key: a busy integration costs no write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
        record(
            Event.API_KEY_REVOKED,
            merchant_id=api_key.merchant_id,
            obj=api_key,
            actor=actor,
            summary=f"{api_key.name} ({api_key.prefix}…)",
        )
    return api_key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key with this secret, or None; records when it was last used."""
    if not raw.startswith(("vpos_live_", "vpos_test_")) or len(raw) > 200:
        return None
    api_key = (
        ApiKey.objects.select_related("merchant")
        .filter(secret_hash=key_hash(raw), revoked_at__isnull=True)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or api_key.last_used_at < now - LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
