"""`Idempotency-Key` on API writes: the same key and body give the first answer again.

The key is stored per API key with a hash of the request; a unique constraint makes concurrent
requests with the same key create one record, so one object.

No record is ever released. A request that moves money (a refund) is `resumable`: its operation
binds the record to what it made in the same transaction as its reservation, before the provider
is asked (the Refund carries `Claim.request_key`), so a retry finds it whatever happened next and
answers with it, pending, succeeded or failed. A record without an object never reached the
provider (its process failed or died before the reservation committed): the identical retry
simply runs again, at once, serialised with any still-running first try by the payment's lock, so
no key is ever stuck. Other writes run in the request's transaction (ATOMIC_REQUESTS): their
record commits or rolls back with their object.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from vpos import retention

from ..models import ApiIdempotencyKey, ApiKey

HEADER = "Idempotency-Key"
MAX_LENGTH = 255


class IdempotencyConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_conflict"


def request_hash(operation: str, body: Any) -> str:
    canonical = json.dumps([operation, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def header_key(request: Any) -> str:
    key = request.headers.get(HEADER, "").strip()
    if len(key) > MAX_LENGTH or "\x00" in key:
        raise ValidationError(
            {"idempotency_key": [_("The Idempotency-Key is at most 255 characters.")]}
        )
    return key


@dataclass
class Claim:
    record: ApiIdempotencyKey | None
    replay_object_id: str = ""

    @property
    def request_key(self) -> str:
        """What names this request to the operation: the same for every retry of it."""
        return f"api-{self.record.pk}" if self.record is not None else ""

    def complete(self, object_id: Any) -> None:
        if self.record is not None:
            self.record.object_id = str(object_id)
            # An UPDATE of one column: the record has no shop, so no cache or subscriber cares
            # about its saves (and the model's save path costs twice the statement's).
            ApiIdempotencyKey.objects.filter(pk=self.record.pk).update(object_id=str(object_id))


def idempotency_claim(
    *, api_key: ApiKey, key: str, operation: str, body: Any, resumable: bool = False
) -> Claim:
    """Claim `key` for this request, or find the object a previous identical request made.

    Raises IdempotencyConflict when the key was used with another request, or its first request
    is still running. `resumable`: the operation itself recognises a request it has seen (by
    `Claim.request_key`, e.g. a refund reserved under it before the provider was asked), so an
    identical request whose first try has not finished, or failed half way, runs again and finds
    what the first one did: nothing moves twice, and the key is never released.
    """
    if not key:
        return Claim(None)
    digest = request_hash(operation, body)
    record = _record_new(api_key=api_key, key=key, operation=operation, digest=digest)
    if record is not None:
        return Claim(record)
    record = ApiIdempotencyKey.objects.get(api_key=api_key, key=key)
    if record.operation != operation or record.request_hash != digest:
        raise IdempotencyConflict(
            _(
                "This Idempotency-Key was already used with a different request. "
                "Use a new key for a new request."
            )
        )
    if not record.object_id and resumable:
        return Claim(record)
    if not record.object_id:
        raise IdempotencyConflict(
            _("A request with this Idempotency-Key is still being processed. Try again shortly.")
        )
    return Claim(None, replay_object_id=record.object_id)


def _record_new(
    *, api_key: ApiKey, key: str, operation: str, digest: str
) -> ApiIdempotencyKey | None:
    """The new record of `key`, or None when the key has one already.

    One `INSERT ... ON CONFLICT DO NOTHING`: no read before it and no savepoint around it (a
    duplicate key is not an error that would abort the request's transaction). A concurrent
    request inserting the same key makes this one wait for its transaction: if it commits,
    the key has a record (None here, and the caller reads it); if it rolls back, this insert
    goes ahead. The first try of every key, the common case, costs this one statement."""
    record = ApiIdempotencyKey(
        api_key=api_key,
        key=key,
        operation=operation,
        request_hash=digest,
        created_at=timezone.now(),
    )
    meta, quote = ApiIdempotencyKey._meta, connection.ops.quote_name
    names = ["api_key", "key", "operation", "request_hash", "object_id", "created_at"]
    fields = [meta.get_field(name) for name in names]
    columns = ", ".join(quote(field.column) for field in fields)
    unique = ", ".join(quote(meta.get_field(name).column) for name in ("api_key", "key"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 - names from the model
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({unique}) DO NOTHING RETURNING {quote(meta.pk.column)}",
            [
                field.get_db_prep_save(getattr(record, field.attname), connection)
                for field in fields
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    record.pk = row[0]
    record._state.adding = False
    return record


def idempotency_purge(*, now: datetime) -> int:
    """Forget keys older than `RETENTION_IDEMPOTENCY_DAYS` (the window the API documents): the
    objects they made stay, and a refund keeps the request key it was made for."""
    cutoff = retention.older_than(settings.RETENTION_IDEMPOTENCY_DAYS, now=now)
    deleted, _ = ApiIdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
