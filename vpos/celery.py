"""The Celery app. Tasks take ids, are idempotent and are enqueued after commit."""

import contextvars
import os
from typing import Any

import celery
import redis.exceptions
from celery import Celery, signals
from django.db import InterfaceError, OperationalError, transaction

from vpos.logging import payment_id_var, request_id_var, shop_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vpos.settings.local")

# Errors worth another try a little later: the database, Redis or a socket (SMTP, HTTP) was
# briefly away. Tasks list them in `autoretry_for`; anything else is a bug or a permanent refusal.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    OSError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class Task(celery.Task):
    """Defaults for every task: retries (automatic ones via `autoretry_for`) wait 5 s, 10 s,
    20 s ... at most 10 minutes, with random jitter so a recovered server is not hit by every
    retry at once. Time limits: CELERY_TASK_TIME_LIMIT / CELERY_TASK_SOFT_TIME_LIMIT."""

    retry_backoff = 5
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 5


def enqueue_after_commit(task: celery.Task, *args: Any) -> None:
    """Enqueue `task` once the surrounding transaction commits (at once outside one). Robust: the
    change is committed by then, so a broker that is away must not turn it into an error; each
    task's periodic sweep picks up what was not enqueued."""

    def enqueue() -> None:
        task.delay(*args)

    enqueue.task = task  # type: ignore[attr-defined]  # which task the commit hook starts
    transaction.on_commit(enqueue, robust=True)


app = Celery("vpos", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_log_tokens: dict[str, list[tuple[contextvars.ContextVar, contextvars.Token]]] = {}


@signals.task_prerun.connect
def _bind_log_context(task_id: str, **kwargs) -> None:
    """A task's log records carry its id as request id (and no shop or payment of the last)."""
    _log_tokens[task_id] = [
        (request_id_var, request_id_var.set(task_id)),
        (shop_id_var, shop_id_var.set("-")),
        (payment_id_var, payment_id_var.set("-")),
    ]


@signals.task_postrun.connect
def _unbind_log_context(task_id: str, **kwargs) -> None:
    for var, token in reversed(_log_tokens.pop(task_id, [])):
        try:
            var.reset(token)
        except ValueError:  # set in another context (a thread pool): nothing to restore here
            var.set("-")
