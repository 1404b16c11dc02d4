from celery import shared_task

from vpos import outbox, retention
from vpos.celery import TRANSIENT_ERRORS


# A database error is retried too: before the row is marked sending nothing went out, and after
# it a retry finds the row sending (or sent) and leaves it alone, so no retry sends twice.
@shared_task(
    bind=True, acks_late=True, max_retries=outbox.MAX_ATTEMPTS, autoretry_for=TRANSIENT_ERRORS
)
def outbox_send(self, email_id: int) -> str:
    """Send one outbox email; transient SMTP errors come back later with backoff."""
    result = outbox.outbox_deliver(email_id=email_id)
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)
    return result.status


@shared_task(acks_late=True)
def outbox_sweep() -> int:
    """Periodic: pick up queued emails whose task went missing."""
    return outbox.outbox_requeue_due()


@shared_task(acks_late=True)
def retention_purge() -> dict[str, int]:
    """Daily: remove what the retention settings say is no longer kept (vpos/retention.py)."""
    return retention.retention_run()
