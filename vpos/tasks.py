from celery import shared_task

from vpos import outbox


@shared_task(bind=True, acks_late=True, max_retries=outbox.MAX_ATTEMPTS)
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
