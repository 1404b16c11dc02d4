from celery import shared_task

from .webhooks import webhook_send, webhooks_requeue_due

__all__ = ["webhook_send", "webhooks_retry_due"]


@shared_task(acks_late=True)
def webhooks_retry_due() -> int:
    return webhooks_requeue_due()
