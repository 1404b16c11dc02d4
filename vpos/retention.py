"""Data retention: what vpos keeps, for how long, and the daily purge.

Each purge is a function `(*, now) -> int` living next to the data it owns (the outbox, webhook
deliveries, idempotency records, exports) and listed in `settings.RETENTION_PURGES`; the daily
Celery task and `manage.py purge_expired_data` run them all. Fiscal documents (receipts, refund
notes) are never in that list: they are kept `FISCAL_RETENTION_YEARS`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def older_than(days: int, *, now: datetime) -> datetime:
    """The cut-off of a retention period of `days` days, counted back from `now`."""
    return now - timedelta(days=days)


def sessions_clear(*, now: datetime) -> int:
    """Delete expired sessions from the database (as `manage.py clearsessions`); engines that keep
    no rows (cache, signed cookies) expire theirs by themselves."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store, "get_model_class"):
        return 0
    deleted, _ = store.get_model_class().objects.filter(expire_date__lt=now).delete()
    return deleted


def retention_run(*, now: datetime | None = None) -> dict[str, int]:
    """Run every purge of `settings.RETENTION_PURGES`; what each changed, by name."""
    now = now or timezone.now()
    done: dict[str, int] = {}
    for path in settings.RETENTION_PURGES:
        done[path.rsplit(".", 1)[-1]] = import_string(path)(now=now)
    logger.info("retention purge: %s", done)
    return done
