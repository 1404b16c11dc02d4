"""Logging: a request id and the shop/payment in hand on every record, JSON lines in production.

The context lives in contextvars, so it follows the request (or Celery task) that set it and never
leaks into another thread's records. Log ids, never content: card data does not reach this server
at all, and secrets or email bodies must not be passed to a logger. As a safety net the filter
masks anything shaped like a Stripe secret (`sk_...`, `rk_...`, `whsec_...`) in the message.

Imported by the settings module: it must not import Django settings or models.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import logging
import re
import uuid
from collections.abc import Iterator

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
shop_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("shop_id", default="-")
payment_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("payment_id", default="-")

_CONTEXT = {"request_id": request_id_var, "shop_id": shop_id_var, "payment_id": payment_id_var}
_SECRET = re.compile(r"\b(sk|rk|whsec)_[A-Za-z0-9_]{6,}")
# Attributes every LogRecord has: anything else on a record came through `extra=` and is logged.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    *_CONTEXT,
}


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Add request_id, shop_id or payment_id to every record logged inside the block."""
    tokens = [(_CONTEXT[name], _CONTEXT[name].set(str(value))) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def redact(text: str) -> str:
    return _SECRET.sub(lambda match: f"{match.group(1)}_[redacted]", text)


class RequestContextFilter(logging.Filter):
    """Puts request_id, shop_id and payment_id on the record and masks secret-shaped strings."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log collectors (Loki, CloudWatch, journald) index."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT:
            value = getattr(record, name, "-")
            if value and value != "-":
                entry[name] = value
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and not name.startswith("_"):
                entry[name] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def logging_config(*, level: str = "INFO", fmt: str = "plain") -> dict:
    """The LOGGING setting: `fmt` is "json" (production default) or "plain"."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "vpos.logging.RequestContextFilter"}},
        "formatters": {
            "plain": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            },
            "json": {"()": "vpos.logging.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if fmt == "json" else "plain",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "weasyprint": {"level": "WARNING"},
            "fontTools": {"level": "WARNING"},
        },
    }
