from celery import shared_task

from . import services


@shared_task(bind=True, acks_late=True, max_retries=5)
def receipt_export_build(self, export_id: int) -> None:
    from .models import ReceiptExport

    try:
        services.export_build(export_id=export_id)
    except Exception as error:
        ReceiptExport.objects.filter(pk=export_id).update(
            status=ReceiptExport.Status.FAILED, error=str(error)[:500]
        )
        raise
