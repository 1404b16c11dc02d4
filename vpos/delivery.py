"""One delivery engine for what vpos sends out of band: emails (`vpos.outbox`) and webhooks
(`integrations.webhooks`).

Both follow one skeleton, kept here:

1. the row is written first, in the transaction of the change it reports;
2. a Celery task sends it after that transaction commits (`Channel.send_after_commit`);
3. an attempt locks its row with `select_for_update(skip_locked=True)` (`claim`), so a row is in
   one worker's hands at a time and a second task for it finds nothing to do;
4. a failure comes back later, each wait twice the one before (`backoff`), through the task's
   own retry (`delivery_task`);
5. a periodic sweep re-enqueues rows whose task went missing: the broker was away at commit,
   a worker was killed (`requeue_due`).

What differs (how a row is sent, which failures are final, how long to keep trying) stays with
each channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from celery import Task, shared_task
from django.db import models
from django.utils import timezone

from .celery import enqueue_after_commit

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt came to: the row's status, and when to try again (None: never)."""

    status: str
    retry_in: int | None = None


LOCKED_OR_MISSING = DeliveryResult("locked-or-missing")


def backoff(attempts: int, *, base: int, cap: int | None = None) -> int:
    """Seconds before the next attempt after `attempts` failed ones: base, 2×base, 4×base..."""
    wait = base * 2 ** (attempts - 1)
    return min(wait, cap) if cap is not None else wait


def claim(rows: models.QuerySet[M], pk: int) -> M | None:
    """Lock one row for its attempt (inside a transaction); None if another worker holds it or
    it is gone."""
    return rows.select_for_update(skip_locked=True).filter(pk=pk).first()


def requeue_due(due: models.QuerySet[Any], task: Task, *, limit: int = 500) -> int:
    """Periodic: enqueue again the rows of `due` (pending, past their next attempt) whose task
    went missing."""
    ids = list(due.values_list("pk", flat=True)[:limit])
    for row_id in ids:
        task.delay(row_id)
    return len(ids)


def delivery_task(
    deliver: Callable[[int], DeliveryResult],
    *,
    name: str,
    max_retries: int,
    autoretry_for: tuple[type[BaseException], ...] = (),
) -> Task:
    """The Celery task that makes one attempt with `deliver(row_id)` and comes back after the
    wait the attempt asked for."""

    def send(task: Task, row_id: int) -> str:
        result = deliver(row_id)
        if result.retry_in is not None:
            raise task.retry(countdown=result.retry_in)
        return result.status

    send.__name__ = name.rsplit(".", 1)[-1]
    send.__doc__ = deliver.__doc__
    return shared_task(
        bind=True,
        acks_late=True,
        name=name,
        max_retries=max_retries,
        autoretry_for=autoretry_for,
    )(send)


class Channel:
    """One kind of delivery (emails, webhooks): its Celery task, which makes one attempt with
    `deliver(row_id)`, and its sweep, which finds the rows still pending past their next attempt
    (`pending`) and enqueues them again."""

    def __init__(
        self,
        *,
        task_name: str,
        deliver: Callable[[int], DeliveryResult],
        pending: Callable[[], models.QuerySet[Any]],
        max_retries: int,
        autoretry_for: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.pending = pending
        self.task = delivery_task(
            deliver, name=task_name, max_retries=max_retries, autoretry_for=autoretry_for
        )

    def send_after_commit(self, row_id: int) -> None:
        """Send the row once the transaction that wrote it commits (the sweep, if the broker is
        away then)."""
        enqueue_after_commit(self.task, row_id)

    def requeue_due(self, *, grace: timedelta) -> int:
        """Periodic: rows whose task went missing (the broker was away, a worker was killed)."""
        return requeue_due(
            self.pending().filter(next_attempt_at__lt=timezone.now() - grace), self.task
        )
