from celery import shared_task

from vpos import outbox, retention
from vpos.outbox import outbox_send

__all__ = ["outbox_send", "outbox_sweep", "retention_purge"]


@shared_task(acks_late=True)
def outbox_sweep() -> int:
    """Periodic: pick up queued emails whose task went missing."""
    return outbox.outbox_requeue_due()


@shared_task(acks_late=True)
def retention_purge() -> dict[str, int]:
    """Daily: remove what the retention settings say is no longer kept (vpos/retention.py)."""
    return retention.retention_run()
