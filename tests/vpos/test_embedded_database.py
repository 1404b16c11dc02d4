"""The embedded SQLite default under concurrent writers, as `make run` has them: API requests and
the worker's email tasks, each through its own connection, all at once. Every writer waits its
turn (BEGIN IMMEDIATE, a busy timeout); none fails with "database is locked".

The payment races (checkout, browser return against the webhook, refunds with retries) run on
SQLite as well: tests/links/test_concurrency.py, tests/integrations/test_refund_retries.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from integrations.api_keys import api_key_create
from integrations.models import ApiKey
from links.models import PaymentLink
from tests.support.api import LINK, ApiClient
from tests.support.concurrency import run_concurrently
from vpos.models import OutboxEmail
from vpos.outbox import outbox_deliver

pytestmark = [
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the embedded SQLite default"),
    pytest.mark.django_db(transaction=True),
]

WRITERS = 6


def test_the_test_database_is_a_shared_file_in_wal_mode():
    """What the next test relies on: threads share one database file, as processes do."""
    assert not connection.is_in_memory_db()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def test_api_link_creations_and_email_deliveries_at_once_all_succeed(shop, settings):
    settings.VPOS_API_RATE = "1000/min"
    _key, raw = api_key_create(
        merchant=shop.merchant, name="Shop site", scope=ApiKey.Scope.READ_WRITE, actor=None
    )
    emails = [
        OutboxEmail.objects.create(
            kind="test",
            merchant=shop.merchant,
            to_email=f"cliente{n}@example.com",
            subject="Conferma",
            body_text="Pagato.",
            dedupe_key=f"test:{n}",
            next_attempt_at=timezone.now(),
        )
        for n in range(WRITERS)
    ]

    def create_link(n: int) -> Callable[[], int]:
        def job() -> int:
            response = ApiClient(raw).post_json(
                "/api/v1/links", {**LINK, "reference": f"order-{n}"}, **{"Idempotency-Key": f"k{n}"}
            )
            return response.status_code

        return job

    def deliver(email: OutboxEmail) -> Callable[[], Any]:
        return lambda: outbox_deliver(email_id=email.pk).status

    jobs = [create_link(n) for n in range(WRITERS)] + [deliver(email) for email in emails]
    results = run_concurrently(jobs)

    assert results == [201] * WRITERS + [OutboxEmail.Status.SENT] * WRITERS
    assert PaymentLink.objects.filter(merchant=shop.merchant).count() == WRITERS
    # Each stored email went out once (the links' own emails, if any, are not counted here).
    delivered = [message.to[0] for message in mail.outbox if message.to[0].startswith("cliente")]
    assert sorted(delivered) == sorted(email.to_email for email in emails)
