"""A real Celery worker takes the outbox task off the broker and sends the email once.

The broker is Redis when REDIS_URL is set (CI), otherwise the filesystem broker the settings fall
back to, so the test runs in both environments. Tasks are not eager here: the message goes through
JSON serialization and the broker, and is only published once the transaction commits.
"""

import time
import uuid

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import task_prerun
from django.conf import settings
from django.core import mail
from django.db import transaction

import vpos.tasks  # noqa: F401 - defines outbox_send, so every app finalized later has it
from vpos.celery import app as project_app
from vpos.models import OutboxEmail
from vpos.outbox import outbox_store


@pytest.fixture
def celery_worker(tmp_path):
    """A worker thread for an app configured like `vpos.celery.app` but not eager.

    A fresh app, so nothing the eager tests left in the project app's connection pools matters,
    and queues of its own (the project's, renamed), so no other worker on the same broker can take
    the task. Yields the project queue names mapped to this worker's, and the runs.
    """
    prefix = f"vpos-test-{uuid.uuid4().hex[:8]}"
    queues = {name: f"{prefix}-{name}" for name in settings.CELERY_QUEUE_NAMES}
    worker_app = Celery("vpos", set_as_current=False)
    worker_app.config_from_object("django.conf:settings", namespace="CELERY")
    transport_options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    if not settings.REDIS_URL:  # the filesystem broker: private folders, nothing left behind
        for folder in ("queue", "processed"):
            (tmp_path / folder).mkdir()
        transport_options |= {
            "data_folder_in": str(tmp_path / "queue"),
            "data_folder_out": str(tmp_path / "queue"),
            "processed_folder": str(tmp_path / "processed"),
        }
    worker_app.conf.update(
        task_always_eager=False,
        task_default_queue=queues["default"],
        task_routes={
            task: {"queue": queues[route["queue"]]}
            for task, route in settings.CELERY_TASK_ROUTES.items()
        },
        broker_transport_options=transport_options,
    )
    runs: list[tuple[str, bool, str | None]] = []

    def record(sender, task_id, task, **kwargs):
        delivery = task.request.delivery_info or {}
        runs.append((task.name, bool(task.request.is_eager), delivery.get("routing_key")))

    task_prerun.connect(record, weak=False)
    worker_app.set_current()  # `outbox_send` (a shared task) now resolves to this app
    try:
        with start_worker(
            worker_app, perform_ping_check=False, shutdown_timeout=30, queues=list(queues.values())
        ):
            yield queues, runs
    finally:
        # start_worker made the worker app the default too, which threads started later (the
        # concurrency tests) would resolve shared tasks against.
        project_app.set_current()
        project_app.set_default()
        task_prerun.disconnect(record)
        worker_app.close()


def wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_worker_sends_a_committed_email_once(celery_worker):
    queues, runs = celery_worker
    with transaction.atomic():
        email = outbox_store(
            kind="test",
            to="worker@example.com",
            subject="Sent by the worker",
            body_text="Hello from the broker.",
        )

    assert wait_for(
        lambda: OutboxEmail.objects.get(pk=email.pk).status == OutboxEmail.Status.SENT
    ), OutboxEmail.objects.get(pk=email.pk).last_error
    email.refresh_from_db()
    # Via the broker, not eager, on the email queue.
    assert runs == [("vpos.tasks.outbox_send", False, queues["email"])]
    assert email.attempts == 1
    assert [(message.to, message.subject) for message in mail.outbox] == [
        (["worker@example.com"], "Sent by the worker")
    ]
