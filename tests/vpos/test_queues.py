"""Tasks go to queues by kind of work, so that each kind scales and fails on its own."""

import pytest
from django.conf import settings

from vpos.celery import app


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        ("vpos.tasks.outbox_send", "email"),
        ("receipts.tasks.receipt_render", "documents"),
        ("receipts.tasks.refund_note_render", "documents"),
        ("receipts.tasks.receipt_export_build", "documents"),
        ("receipts.tasks.invoice_followups", "documents"),
        ("integrations.tasks.webhook_send", "webhooks"),
        ("integrations.tasks.webhooks_retry_due", "webhooks"),
        ("receipts.tasks.payment_followups", "default"),
        ("receipts.tasks.refund_followups", "default"),
        ("links.tasks.payments_reconcile", "default"),
    ],
)
def test_each_kind_of_work_has_its_queue(task_name, queue):
    assert queue_of(task_name) == queue


def test_every_task_goes_to_a_queue_the_workers_consume():
    app.loader.import_default_modules()
    names = [name for name in app.tasks if not name.startswith("celery.")]
    assert {queue_of(name) for name in names} == set(settings.CELERY_QUEUE_NAMES)
    routed = set(settings.CELERY_TASK_ROUTES)
    assert routed <= set(names), routed - set(names)  # no route names a task that is gone


def test_the_development_worker_consumes_every_queue():
    worker = next(
        line
        for line in (settings.BASE_DIR / "Procfile.dev").read_text().splitlines()
        if line.startswith("worker:")
    )
    queues = worker.split(" -Q ", 1)[1].split()[0].split(",")
    assert sorted(queues) == sorted(settings.CELERY_QUEUE_NAMES)
